/* Nesting scan of a nota.Model payload, before protobuf-c sees it.
 *
 * protobuf-c unpacks sub-messages by recursion and has no depth limit: a
 * 34 KB file of 10,000 nested sub-messages overflows the stack. This scan
 * walks the wire format once, with an explicit stack of at most max_depth
 * frames, using the generated descriptors to know which length-delimited
 * fields are sub-messages (exactly the ones protobuf-c will recurse into;
 * unknown fields are kept as raw bytes by protobuf-c and skipped here). It
 * also refuses what protobuf-c would accept silently or badly: strings with a
 * NUL byte (they would be cut short) and known fields with the wrong wire
 * type (better message here). It allocates nothing.
 */
#include <string.h>

#include "modelfile_internal.h"

typedef struct frame {
    const ProtobufCMessageDescriptor *desc;
    size_t end; /* offset one past this message's last byte */
} frame;

/* Read a base-128 varint at *pos (< end); at most 10 bytes, 64 bits. */
static int read_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= end) return -1;
        uint8_t b = p[(*pos)++];
        if (i == 9 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Wire type a known field must arrive with (packed repeated scalars: 2). */
static int wire_type_of(const ProtobufCFieldDescriptor *f, int got) {
    int packable = f->label == PROTOBUF_C_LABEL_REPEATED;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_BOOL: case PROTOBUF_C_TYPE_ENUM:
        return packable && got == 2 ? 2 : 0;
    case PROTOBUF_C_TYPE_DOUBLE: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64:
        return packable && got == 2 ? 2 : 1;
    case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32:
        return packable && got == 2 ? 2 : 5;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES: case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    }
    return -1;
}

nota_status nota_mf_scan(const uint8_t *p, size_t n, int max_depth, const char *name) {
    frame stack[NOTA_MODEL_MAX_DEPTH];
    if (max_depth < 1 || max_depth > NOTA_MODEL_MAX_DEPTH)
        return nota_error(NOTA_EINVAL, "model '%s': max_depth %d outside 1..%d", name, max_depth,
                          NOTA_MODEL_MAX_DEPTH);
    int depth = 1;
    stack[0] = (frame){&nota__model__descriptor, n};
    size_t pos = 0;
    while (depth > 0) {
        frame *top = &stack[depth - 1];
        if (pos == top->end) {
            depth--;
            continue;
        }
        size_t at = pos;
        uint64_t tag, len = 0;
        if (read_varint(p, top->end, &pos, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
            return nota_error(NOTA_EFORMAT, "model '%s': bad field tag in %s at byte offset %zu",
                              name, top->desc->name, at);
        int wt = (int)(tag & 7);
        switch (wt) {
        case 0: {
            uint64_t ignored;
            if (read_varint(p, top->end, &pos, &ignored))
                return nota_error(NOTA_EFORMAT,
                                  "model '%s': bad varint in %s at byte offset %zu", name,
                                  top->desc->name, at);
            break;
        }
        case 1: len = 8; break;
        case 5: len = 4; break;
        case 2:
            if (read_varint(p, top->end, &pos, &len))
                return nota_error(NOTA_EFORMAT, "model '%s': bad length in %s at byte offset %zu",
                                  name, top->desc->name, at);
            break;
        default:
            return nota_error(NOTA_EFORMAT,
                              "model '%s': unsupported wire type %d in %s at byte offset %zu",
                              name, wt, top->desc->name, at);
        }
        if (len > top->end - pos)
            return nota_error(NOTA_EFORMAT,
                              "model '%s': field at byte offset %zu of %s runs past its end "
                              "(%llu bytes, %zu left)",
                              name, at, top->desc->name, (unsigned long long)len, top->end - pos);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(top->desc, (unsigned)(tag >> 3));
        if (f && wire_type_of(f, wt) != wt)
            return nota_error(NOTA_EFORMAT,
                              "model '%s': field %s.%s at byte offset %zu has wire type %d, "
                              "expected %d",
                              name, top->desc->name, f->name, at, wt, wire_type_of(f, wt));
        if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + pos, 0, (size_t)len))
            return nota_error(NOTA_EFORMAT,
                              "model '%s': text field %s.%s at byte offset %zu contains a NUL byte",
                              name, top->desc->name, f->name, at);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (depth >= max_depth)
                return nota_error(NOTA_ELIMIT,
                                  "model '%s': messages nested deeper than %d levels (%s.%s at "
                                  "byte offset %zu)",
                                  name, max_depth, top->desc->name, f->name, at);
            stack[depth++] = (frame){f->descriptor, pos + (size_t)len};
            continue; /* pos stays at the start of the sub-message's fields */
        }
        pos += (size_t)len;
    }
    return NOTA_OK;
}
