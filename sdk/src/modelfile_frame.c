/* Model-file framing: the 24-byte header in front of the protobuf payload.
 *
 *   "NOTAMDL\0" | u32 frame version | u64 payload bytes | u32 CRC-32 | payload
 *
 * Integers are little-endian whatever the host. The checks run in the order
 * that gives the most useful message: too short, wrong magic, unknown frame
 * version, length against the file size (truncated and trailing bytes are
 * told apart), then the checksum — so a flipped bit is reported as such and
 * the protobuf parser never sees a corrupted payload.
 */
#include <string.h>
#include <zlib.h>

#include "modelfile_internal.h"

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint32_t nota_mf_crc32(const uint8_t *p, size_t n) {
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n);
}

uint32_t nota_mf_crc32_more(uint32_t crc, const uint8_t *p, size_t n) {
    return (uint32_t)crc32_z(crc, p, n);
}

void nota_mf_frame_header(uint8_t *hdr, uint64_t payload_n, uint32_t crc) {
    memcpy(hdr, NOTA_MF_MAGIC, NOTA_MF_MAGIC_LEN);
    put_u32(hdr + 8, NOTA_MF_FRAME_VERSION);
    put_u64(hdr + 12, payload_n);
    put_u32(hdr + 20, crc);
}

nota_status nota_mf_frame_check(const uint8_t *bytes, size_t n, const char *name,
                                const uint8_t **payload, size_t *payload_n) {
    if (n < NOTA_MF_HEADER_BYTES)
        return nota_error(NOTA_EFORMAT,
                          "model '%s': file is %zu bytes, shorter than the %d-byte header "
                          "(truncated?)",
                          name, n, NOTA_MF_HEADER_BYTES);
    if (memcmp(bytes, NOTA_MF_MAGIC, NOTA_MF_MAGIC_LEN) != 0)
        return nota_error(NOTA_EFORMAT,
                          "model '%s': not a nota model file (the first 8 bytes are not "
                          "\"NOTAMDL\\0\")",
                          name);
    uint32_t version = get_u32(bytes + 8);
    if (version != NOTA_MF_FRAME_VERSION)
        return nota_error(NOTA_ENOTSUP, "model '%s': frame version %u is not supported (expected %u)",
                          name, version, NOTA_MF_FRAME_VERSION);
    uint64_t len = get_u64(bytes + 12);
    uint64_t have = (uint64_t)(n - NOTA_MF_HEADER_BYTES);
    if (len > have)
        return nota_error(NOTA_EFORMAT,
                          "model '%s': truncated: the header says %llu payload bytes, the file "
                          "has %llu",
                          name, (unsigned long long)len, (unsigned long long)have);
    if (len < have)
        return nota_error(NOTA_EFORMAT,
                          "model '%s': %llu trailing bytes after the %llu-byte payload", name,
                          (unsigned long long)(have - len), (unsigned long long)len);
    if (len > NOTA_MF_MAX_PAYLOAD)
        return nota_error(NOTA_ELIMIT, "model '%s': payload of %llu bytes exceeds the format's %llu",
                          name, (unsigned long long)len, (unsigned long long)NOTA_MF_MAX_PAYLOAD);
    uint32_t want = get_u32(bytes + 20);
    uint32_t got = nota_mf_crc32(bytes + NOTA_MF_HEADER_BYTES, (size_t)len);
    if (got != want)
        return nota_error(NOTA_ECHECKSUM,
                          "model '%s': payload CRC-32 is 0x%08x, the header says 0x%08x (file "
                          "corrupted)",
                          name, got, want);
    *payload = bytes + NOTA_MF_HEADER_BYTES;
    *payload_n = (size_t)len;
    return NOTA_OK;
}
