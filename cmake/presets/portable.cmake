# CPU only, for any x86-64 machine: the backends are modules (GGML_BACKEND_DL) and the CPU's come in every variant
# ggml knows (libggml-cpu-<variant>.so, from sse42 to zen4 and sapphirerapids), of which ggml loads the best one the
# CPU runs. What io.github.phi2j:phi2-native:linux-x86_64 ships. No OpenMP: the libraries then need nothing beyond
# glibc and libstdc++ (ggml's own thread pool does the work).
set(PHI2J_BACKEND "cpu" CACHE STRING "")
set(GGML_NATIVE OFF CACHE BOOL "")
set(GGML_BACKEND_DL ON CACHE BOOL "")
set(GGML_CPU_ALL_VARIANTS ON CACHE BOOL "")
set(GGML_OPENMP OFF CACHE BOOL "")
