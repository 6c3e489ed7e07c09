# NVIDIA CUDA. Architectures default to A100 (80) and H100 (90); override with --gpu-targets.
set(PHI2J_BACKEND "cuda" CACHE STRING "")
set(GGML_CUDA ON CACHE BOOL "")
set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "")
