# NVIDIA CUDA: libggml-cuda.so beside a CPU module for this machine. Architectures default to A100 (80) and H100/H200
# (90); override with --gpu-targets. The module needs the CUDA runtime and cuBLAS of the toolkit it was built with.
set(PHI2J_BACKEND "cuda" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
set(GGML_CUDA ON CACHE BOOL "")
set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "")
