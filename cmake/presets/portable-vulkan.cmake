# The portable engine (portable.cmake) with the VULKAN backend as one more module, libggml-vulkan.so: the add-on
# io.github.phi2j:phi2-native:linux-x86_64-vulkan. With --backend-only only that module is built and installed.
include(${CMAKE_CURRENT_LIST_DIR}/portable.cmake)
set(PHI2J_BACKEND "vulkan" CACHE STRING "" FORCE)
set(GGML_VULKAN ON CACHE BOOL "")
# Needs the Vulkan loader (libvulkan.so.1) and a driver on the machine that loads it.
