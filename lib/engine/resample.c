/* Resampling kernels: zero padding with four independent sides (the
 * DDPM downsample pads right and bottom only) and nearest-neighbour
 * upsampling by an integer factor. */
#include <string.h>

#include "engine/kernels.h"

void lm_kpad(const float *in, int64_t c, int64_t h, int64_t w, int64_t top,
             int64_t left, int64_t bottom, int64_t right, float *out)
{
    int64_t ow = left + w + right, oh = top + h + bottom;
    size_t row = (size_t)w * sizeof *in;
    for (int64_t ch = 0; ch < c; ch++, in += h * w, out += oh * ow) {
        memset(out, 0, (size_t)(top * ow) * sizeof *out);
        for (int64_t y = 0; y < h; y++) {
            float *o = out + (top + y) * ow;
            memset(o, 0, (size_t)left * sizeof *o);
            memcpy(o + left, in + y * w, row);
            memset(o + left + w, 0, (size_t)right * sizeof *o);
        }
        memset(out + (top + h) * ow, 0, (size_t)(bottom * ow) * sizeof *out);
    }
}

/* Each output row is written once from its input row and then copied
 * scale - 1 times. */
LM_KHOT void lm_kupsample_nearest(const float *in, int64_t c, int64_t h,
                                  int64_t w, int64_t scale, float *out)
{
    int64_t ow = w * scale;
    size_t orow = (size_t)ow * sizeof *out;
    for (int64_t ch = 0; ch < c; ch++, in += h * w)
        for (int64_t y = 0; y < h; y++) {
            const float *src = in + y * w;
            for (int64_t x = 0; x < w; x++)
                for (int64_t s = 0; s < scale; s++)
                    out[x * scale + s] = src[x];
            for (int64_t s = 1; s < scale; s++)
                memcpy(out + s * ow, out, orow);
            out += scale * ow;
        }
}
