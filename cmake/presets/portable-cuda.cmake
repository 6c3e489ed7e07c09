# The portable engine (portable.cmake) with the CUDA backend as one more module, libggml-cuda.so: the add-on
# io.github.phi2j:phi2-native:linux-x86_64-cuda. With --backend-only only that module is built and installed.
include(${CMAKE_CURRENT_LIST_DIR}/portable.cmake)
set(PHI2J_BACKEND "cuda" CACHE STRING "" FORCE)
set(GGML_CUDA ON CACHE BOOL "")
# A100 (80) and H100/H200 (90); --gpu-targets overrides. Needs the CUDA runtime and cuBLAS of the toolkit it was
# built with (CUDA 12: libcudart.so.12, libcublas.so.12; CUDA 13: .so.13) on the machine that loads it.
set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "")
