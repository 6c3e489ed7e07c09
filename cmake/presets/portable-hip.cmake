# The portable engine (portable.cmake) with the HIP backend as one more module, libggml-hip.so: the add-on
# io.github.phi2j:phi2-native:linux-x86_64-hip. With --backend-only only that module is built and installed.
include(${CMAKE_CURRENT_LIST_DIR}/portable.cmake)
set(PHI2J_BACKEND "hip" CACHE STRING "" FORCE)
set(GGML_HIP ON CACHE BOOL "")
# MI210/MI250 (gfx90a) and MI300 (gfx942); --gpu-targets overrides. Needs ROCm 6.x's HIP runtime, hipBLAS and rocBLAS.
set(AMDGPU_TARGETS "gfx90a;gfx942" CACHE STRING "")
set(GPU_TARGETS "gfx90a;gfx942" CACHE STRING "")
