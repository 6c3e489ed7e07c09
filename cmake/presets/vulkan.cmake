# Vulkan: any GPU with a Vulkan driver (needs the Vulkan headers, loader and glslc).
set(PHI2J_BACKEND "vulkan" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
set(GGML_VULKAN ON CACHE BOOL "")
