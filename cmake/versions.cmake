# The one place where the native sources are pinned. The Maven side pins de.kherud:llama 4.2.0, which is
# java-llama.cpp v4.2.0, which builds llama.cpp b4916: a library built here is a drop-in for the jar's.
set(PHI2J_JLLAMA_GIT   "https://github.com/kherud/java-llama.cpp.git" CACHE STRING "java-llama.cpp repository")
set(PHI2J_JLLAMA_TAG   "v4.2.0"  CACHE STRING "java-llama.cpp tag (must match de.kherud:llama in pom.xml)")
set(PHI2J_LLAMA_CPP_TAG "b4916"  CACHE STRING "llama.cpp build that java-llama.cpp v4.2.0 fetches")
set(PHI2J_JSON_TAG     "v3.11.3" CACHE STRING "nlohmann/json tag that java-llama.cpp v4.2.0 fetches")
