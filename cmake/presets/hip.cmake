# AMD ROCm/HIP for both Instinct generations this project targets: MI210/MI250 (gfx90a) and MI300 (gfx942).
set(PHI2J_BACKEND "hip" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
set(GGML_HIP ON CACHE BOOL "")
set(AMDGPU_TARGETS "gfx90a;gfx942" CACHE STRING "")
set(GPU_TARGETS "gfx90a;gfx942" CACHE STRING "")
