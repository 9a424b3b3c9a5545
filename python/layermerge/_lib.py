"""Loading liblayermerge and calling it: the library search, the error type
and the status check every wrapper goes through."""
import ctypes
import ctypes.util
import os
import threading

from . import _capi

SONAME = "liblayermerge.so.0"
_lock = threading.Lock()
_lib = None
STATUS_NAMES = _capi.ENUMS["lm_status"]


class LayerMergeError(Exception):
    """A liblayermerge call failed.

    `status` is the negative LM_ERR_* value, `name` its constant name
    ("LM_ERR_PARSE"), `status_text` lm_status_str()'s fixed text, `message`
    lm_last_error()'s message (which names the file, line, layer or entry at
    fault) and `call` the C function that failed."""

    def __init__(self, call, status, message, status_text=None):
        self.call, self.status, self.message = call, status, message
        self.name = STATUS_NAMES.get(status, f"status {status}")
        self.status_text = status_text or self.name
        text = message or self.status_text
        # Most messages already start with the call's name: once is enough.
        if not text.startswith(call + ":"):
            text = f"{call}: {text}"
        super().__init__(f"{text} ({self.name})")


def _candidates():
    """Where the library is looked for, in order (the first that loads
    wins): $LAYERMERGE_LIBRARY; the installed library beside this package
    (same install prefix, found relative to this file so that a DESTDIR
    or relocated tree works); a copy next to the package; the loader's
    search (ctypes.util.find_library, then the SONAME itself, which
    honours LD_LIBRARY_PATH)."""
    env = os.environ.get("LAYERMERGE_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    try:
        from . import _config
    except ImportError:   # the source tree: no install layout
        _config = None
    if _config is not None:
        # pythondir and libdir are both absolute under the configured
        # prefix; their relation holds wherever the tree was copied.
        rel = os.path.relpath(_config.LIBDIR, os.path.join(_config.PYTHONDIR,
                                                           "layermerge"))
        out.append(os.path.normpath(os.path.join(here, rel, SONAME)))
    out.append(os.path.join(here, SONAME))
    found = ctypes.util.find_library("layermerge")
    if found:
        out.append(found)
    out.append(SONAME)
    return out, False


def zoo_path(path):
    """`path`, or for a bare name (no "/") that names no file, NAME.yaml from
    the model zoo, looked up as the `layermerge` command does: the
    directories of $LAYERMERGE_MODELS (":"-separated), the installed zoo
    (beside this package's install prefix), the source tree's
    examples/models. The path itself when none has it."""
    path = os.fspath(path)
    if os.sep in path or "/" in path or os.path.exists(path):
        return path
    name = path if path.endswith(".yaml") else path + ".yaml"
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [d for d in os.environ.get("LAYERMERGE_MODELS", "").split(":") if d]
    try:
        from . import _config
        rel = os.path.relpath(_config.MODELSDIR,
                              os.path.join(_config.PYTHONDIR, "layermerge"))
        dirs.append(os.path.normpath(os.path.join(here, rel)))
    except (ImportError, AttributeError):   # the source tree
        pass
    dirs.append(os.path.normpath(os.path.join(here, "..", "..", "examples",
                                              "models")))
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate):
            return candidate
    return path


def _declare(lib):
    for name, (res, args) in _capi.PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


def library():
    """The loaded CDLL with every prototype declared (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            paths, explicit = _candidates()
            errors = []
            for path in paths:
                if os.sep in path and not os.path.exists(path) and not explicit:
                    continue
                try:
                    lib = ctypes.CDLL(path)
                except OSError as e:
                    errors.append(f"{path}: {e}")
                    continue
                _declare(lib)
                lib._layermerge_path = path
                _lib = lib
                break
            else:
                raise OSError("liblayermerge not found (set LAYERMERGE_LIBRARY "
                              "to its path); tried: " + "; ".join(errors or paths))
    return _lib


def error(name, status):
    c = library()
    return LayerMergeError(name, status, c.lm_last_error().decode(),
                           c.lm_status_str(status).decode())


def call(name, *args):
    """Call lm_<...>; raise LayerMergeError unless it returns LM_OK."""
    status = getattr(library(), name)(*args)
    if status != 0:
        raise error(name, status)
