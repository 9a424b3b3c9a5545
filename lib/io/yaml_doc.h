/* Private: the YAML document, read (yaml_read.h: the node tree with line
 * and column marks and its typed getters) and written (yaml_emit.h: the
 * emitter, whole documents, atomic saves). */
#ifndef LM_IO_YAML_DOC_H
#define LM_IO_YAML_DOC_H

#include "io/yaml_emit.h"
#include "io/yaml_read.h"

#endif
