# Writes the manifest that sits beside an installed libjllama: what it was built for and from.
string(TIMESTAMP _now "%Y-%m-%dT%H:%M:%SZ" UTC)
string(REPLACE ";" "," _targets "${TARGETS}")
file(WRITE "${OUT}" "{\n  \"backend\": \"${BACKEND}\",\n  \"targets\": \"${_targets}\",\n  \"javaLlamaCpp\": \"${JLLAMA}\",\n  \"llamaCpp\": \"${LLAMA_CPP}\",\n  \"os\": \"${OS}\",\n  \"arch\": \"${ARCH}\",\n  \"built\": \"${_now}\"\n}\n")
