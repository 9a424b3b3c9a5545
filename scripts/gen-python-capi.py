#!/usr/bin/python3
"""Writes python/layermerge/_capi.py, the ctypes mirror of the public
headers: every enum constant, every size-versioned record (field for field),
every callback type and the prototype of every LM_API function. The headers
go through the C preprocessor and pycparser (which python3-cffi brings), so
the mirror cannot drift from them by hand; `--check` (a test) fails when the
committed file is stale.

usage: gen-python-capi.py [--check] [CC SRC_INCLUDE BUILD_INCLUDE]
       (defaults: cc, include, build/include of this repository)
"""
import pathlib
import re
import subprocess
import sys

from pycparser import c_ast, c_parser, c_generator

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "python" / "layermerge" / "_capi.py"

# pycparser knows no system header: the types the headers use are declared
# here, after preprocessing dropped everything outside include/layermerge.
PRELUDE = """
typedef unsigned long size_t;
typedef long int64_t; typedef int int32_t; typedef unsigned char uint8_t;
typedef unsigned long uint64_t; typedef unsigned int uint32_t;
"""
SCALARS = {
    "size_t": "c_size_t", "int64_t": "c_int64", "int32_t": "c_int32",
    "uint8_t": "c_uint8", "uint64_t": "c_uint64", "uint32_t": "c_uint32",
    "int": "c_int", "unsigned": "c_uint", "unsigned int": "c_uint",
    "double": "c_double", "float": "c_float", "char": "c_char",
}


def preprocess(cc, src_inc, build_inc):
    pre = subprocess.run(
        [cc, "-E", "-DLM_API=", "-I", src_inc, "-I", build_inc, "-"],
        input='#include "layermerge/layermerge.h"\n', capture_output=True,
        text=True, check=True)
    keep, ours = [], False
    for line in pre.stdout.splitlines():
        m = re.match(r'# \d+ "([^"]+)"', line)
        if m:
            ours = "/layermerge/" in m.group(1)
        elif ours and not line.startswith("#"):
            keep.append(line)
    return PRELUDE + "\n".join(keep)


class Model:
    def __init__(self):
        self.enums = []        # (enum type or None, [(name, value)])
        self.enum_types = set()
        self.opaque = set()    # struct typedefs without a body
        self.records = []      # (name, [(field, ctype)])
        self.record_names = set()
        self.callbacks = []    # (name, restype, [argtypes])
        self.callback_names = set()
        self.functions = []    # (name, restype, [argtypes], C text)
        self.enum_fields = {}  # record -> {field: enum type}
        self.enum_returns = {} # function -> enum type it returns


def const_value(node, known):
    if isinstance(node, c_ast.Constant):
        return int(node.value.rstrip("uUlL"), 0)
    if isinstance(node, c_ast.UnaryOp) and node.op == "-":
        return -const_value(node.expr, known)
    if isinstance(node, c_ast.ID):
        return known[node.name]
    raise ValueError(f"unsupported enum value {node}")


def enum_items(enum, known):
    items, value = [], -1
    for e in enum.values.enumerators:
        value = const_value(e.value, known) if e.value is not None else value + 1
        known[e.name] = value
        items.append((e.name, value))
    return items


def type_name(node):
    """The identifier list of a TypeDecl's type ("size_t", "lm_graph")."""
    t = node.type
    if isinstance(t, c_ast.IdentifierType):
        return " ".join(t.names)
    if isinstance(t, (c_ast.Struct, c_ast.Enum)):
        return t.name
    raise ValueError(f"unsupported type {t}")


class Mapper:
    def __init__(self, model):
        self.m = model

    def base(self, decl):
        """The ctypes expression of a non-pointer type."""
        name = type_name(decl)
        if name in SCALARS:
            return SCALARS[name]
        if name in self.m.enum_types:
            return "c_int"
        if name in self.m.record_names:
            return name
        raise ValueError(f"unknown type {name}")

    def ctype(self, node):
        """ctypes expression for a type node (of a parameter, field or
        return value)."""
        if isinstance(node, c_ast.TypeDecl):
            if type_name(node) == "void":
                return "None"
            return self.base(node)
        if isinstance(node, c_ast.PtrDecl):
            inner = node.type
            if isinstance(inner, c_ast.TypeDecl):
                name = type_name(inner)
                if name == "void":
                    return "c_void_p"
                if name == "char":
                    return "c_char_p"
                if name in self.m.opaque:
                    return "c_void_p"   # a handle
                if name in self.m.callback_names:
                    raise ValueError("pointer to a callback")
                return f"POINTER({self.base(inner)})"
            if isinstance(inner, c_ast.PtrDecl):
                sub = inner.type
                if isinstance(sub, c_ast.TypeDecl) and type_name(sub) in self.m.opaque:
                    return "POINTER(c_void_p)"   # an out-parameter handle
                return f"POINTER({self.ctype(inner)})"
        raise ValueError(f"unsupported declarator {node}")

    def param(self, p):
        t = p.type
        if isinstance(t, c_ast.TypeDecl) and type_name(t) in self.m.callback_names:
            return type_name(t)
        return self.ctype(t)


def build(text):
    ast = c_parser.CParser().parse(text, filename="<layermerge.h>")
    m, known = Model(), {}
    mapper = Mapper(m)
    gen = c_generator.CGenerator()
    for ext in ast.ext:
        if isinstance(ext, c_ast.Typedef):
            t = ext.type
            if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.Struct):
                if t.type.decls is None:
                    m.opaque.add(ext.name)
                else:
                    fields = [(d.name, mapper.ctype(d.type)) for d in t.type.decls]
                    for d in t.type.decls:
                        if isinstance(d.type, c_ast.TypeDecl) and \
                                type_name(d.type) in m.enum_types:
                            m.enum_fields.setdefault(ext.name, {})[d.name] = \
                                type_name(d.type)
                    m.records.append((ext.name, fields))
                    m.record_names.add(ext.name)
            elif isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.Enum):
                m.enum_types.add(ext.name)
                m.enums.append((ext.name, enum_items(t.type, known)))
            elif isinstance(t, c_ast.PtrDecl) and isinstance(t.type, c_ast.FuncDecl):
                f = t.type
                args = [mapper.param(p) for p in f.args.params]
                m.callbacks.append((ext.name, mapper.ctype(f.type), args))
                m.callback_names.add(ext.name)
            elif ext.name in SCALARS:
                continue   # the prelude's typedefs
            else:
                raise ValueError(f"unsupported typedef {ext.name}")
        elif isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.FuncDecl):
            f = ext.type
            params = f.args.params if f.args else []
            if len(params) == 1 and isinstance(params[0].type, c_ast.TypeDecl) \
                    and type_name(params[0].type) == "void":
                params = []
            args = [mapper.param(p) for p in params]
            text_c = re.sub(r"\s+", " ", gen.visit(ext)).strip()
            m.functions.append((ext.name, mapper.ctype(f.type), args, text_c))
            if isinstance(f.type, c_ast.TypeDecl) and \
                    type_name(f.type) in m.enum_types - {"lm_status"}:
                m.enum_returns[ext.name] = type_name(f.type)
        elif isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.Enum):
            m.enums.append((None, enum_items(ext.type, known)))
        else:
            raise ValueError(f"unsupported declaration {ext}")
    return m


def render(m):
    out = ['"""The C interface of liblayermerge for ctypes: enum constants,',
           "records, callback types and function prototypes, mirroring",
           "include/layermerge/*.h. GENERATED by scripts/gen-python-capi.py",
           'from the preprocessed headers; do not edit."""',
           "# flake8: noqa",
           "from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p,",
           "                    c_double, c_float, c_int, c_int32, c_int64,",
           "                    c_size_t, c_uint, c_uint8, c_uint32, c_uint64,",
           "                    c_void_p)",
           "", "# ---- enum constants " + "-" * 50]
    for etype, items in m.enums:
        out.append(f"# {etype}" if etype else "# (anonymous enum)")
        out += [f"{name} = {value}" for name, value in items]
    out.append("")
    out.append("ENUMS = {")
    for etype, items in m.enums:
        if etype:
            out.append(f"    {etype!r}: {{{', '.join(f'{v}: {n!r}' for n, v in items)}}},")
    out.append("}")
    out += ["", "", "# ---- records " + "-" * 56]
    for name, fields in m.records:
        out.append(f"class {name}(Structure):")
        out.append("    _fields_ = [")
        out += [f"        ({f!r}, {t})," for f, t in fields]
        out.append("    ]")
        out += ["", ""]
    out.append("RECORDS = {" + ", ".join(f"{n!r}: {n}" for n, _ in m.records) + "}")
    out.append("# Record fields that hold an enum value: record -> {field: enum}.")
    out.append(f"ENUM_FIELDS = {m.enum_fields!r}")
    out.append("# Functions returning an enum other than lm_status.")
    out.append(f"ENUM_RETURNS = {m.enum_returns!r}")
    out += ["", "# ---- callbacks " + "-" * 54]
    for name, res, args in m.callbacks:
        out.append(f"{name} = CFUNCTYPE({', '.join([res] + args)})")
    out += ["", "# ---- functions: name -> (restype, argtypes) " + "-" * 24,
            "PROTOTYPES = {"]
    for name, res, args, text in m.functions:
        out.append(f"    # {text}")
        out.append(f"    {name!r}: ({res}, [{', '.join(args)}]),")
    out.append("}")
    out.append("")
    return "\n".join(out)


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    cc, src_inc, build_inc = args if args else (
        "cc", str(ROOT / "include"), str(ROOT / "build" / "include"))
    new = render(build(preprocess(cc, src_inc, build_inc)))
    if "--check" in sys.argv:
        if OUT.read_text() != new:
            sys.exit(f"{OUT.relative_to(ROOT)} is stale: run "
                     "scripts/gen-python-capi.py")
        print(f"{OUT.relative_to(ROOT)} is current")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(new)
    print(f"{OUT}: {new.count(chr(10) + '    #')} functions")


if __name__ == "__main__":
    main()
