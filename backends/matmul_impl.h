/* matmul_impl.h: private to matmul.c and the SIMD kernel files (not for other modules).
 *
 * matmul_x86_tmpl.c is compiled once per ISA level with that level's -m flags and a
 * MATMUL_SUFFIX; each build defines one fill function that overrides the gemm slots it
 * has kernels for. matmul.c calls them in increasing order, after checking the CPU.
 */
#ifndef TALLY_BACKENDS_MATMUL_IMPL_H
#define TALLY_BACKENDS_MATMUL_IMPL_H

#include "backends/matmul.h"

#if defined(MATMUL_X86)
void matmul_fill_avx2(matmul_kernels *k);
void matmul_fill_avx512(matmul_kernels *k);
void matmul_fill_avx512vnni(matmul_kernels *k);
void matmul_fill_avx512bf16(matmul_kernels *k);
#endif

#endif
