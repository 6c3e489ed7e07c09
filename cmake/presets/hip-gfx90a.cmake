# AMD Instinct MI210 / MI250 / MI250X (CDNA2, gfx90a) only: a smaller, faster-to-build library.
set(PHI2J_BACKEND "hip" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
set(GGML_HIP ON CACHE BOOL "")
set(AMDGPU_TARGETS "gfx90a" CACHE STRING "")
set(GPU_TARGETS "gfx90a" CACHE STRING "")
