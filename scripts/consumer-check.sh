#!/usr/bin/env bash
# phi2j as a dependency, checked the way users take it. Consumer projects made in a temporary folder outside the
# checkout (no PHI2_HOME, no PHI2_NATIVE_LIB, working directory there, a Maven local repository of their own, a fresh
# phi2j cache) resolve phi2j only from the repository that `mvn deploy -DaltDeploymentRepository=...` wrote, through
# the BOM, and run tests/consumers' App on a model: it opens it, generates 16 tokens greedily and checks its engine.
#   plain    java -cp with the dependencies copied         native engine from the phi2-native jar
#   exec     mvn exec:java (Maven's own class path)         the same
#   shaded   maven-shade-plugin's single jar, java -jar     the same
#   boot     spring-boot-maven-plugin's executable jar      the same (libraries nested in BOOT-INF/lib)
#   vulkan   plain plus the linux-x86_64-vulkan add-on jar, all layers on the GPU (only with --vulkan; on Mesa's
#            llvmpipe, a CPU-type device, with GGML_VK_VISIBLE_DEVICES=0, as ggml's Vulkan backend wants it)
#   readme   the README's library example as written, with phi2-native (readme-binding: without it, a clear refusal)
#   langchain4j  phi2-langchain4j in a LangChain4j application: an AiServices record (10 seeds), a cancelled stream,
#            an in-memory embedding store
#   spring-ai  a Spring Boot application with only the starter, phi2-native and spring.ai.phi2.model: ChatClient call,
#            stream and entity; a missing file and a misspelt option fail its start, named
#   binding  plain without phi2-native                      the binding, and ModelInfo says how to get the engine
# Every native run must print the same greedy text.
#
# Usage: scripts/consumer-check.sh REPO_DIR MODEL.gguf [--vulkan] [--work DIR] [--only NAME,...]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "consumer-check: $*" >&2; exit 2; }
say() { echo "consumer-check: $*" >&2; }

REPO=""; MODEL=""; VULKAN=0; WORK=""; ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --vulkan) VULKAN=1; shift ;;
    --work) [ $# -ge 2 ] || die "--work needs a folder"; WORK="$2"; shift 2 ;;
    --only) [ $# -ge 2 ] || die "--only needs names"; ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1'" ;;
    *) if [ -z "$REPO" ]; then REPO="$1"; elif [ -z "$MODEL" ]; then MODEL="$1"; else die "unexpected argument '$1'"; fi; shift ;;
  esac
done
if [ -z "$REPO" ] || [ -z "$MODEL" ]; then die "usage: scripts/consumer-check.sh REPO_DIR MODEL.gguf [--vulkan] [--work DIR]"; fi
REPO="$(cd "$REPO" 2>/dev/null && pwd)" || die "no repository folder '$REPO'"
MODEL="$(readlink -f "$MODEL")"; [ -f "$MODEL" ] || die "no model '$MODEL'"
VERSION="$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' "$ROOT/pom.xml")"
[ -f "$REPO/io/github/phi2j/phi2j-bom/$VERSION/phi2j-bom-$VERSION.pom" ] || compgen -G "$REPO/io/github/phi2j/phi2j-bom/$VERSION/*.pom" > /dev/null \
  || die "$REPO has no io.github.phi2j:phi2j-bom:$VERSION (mvn -DskipTests deploy -DaltDeploymentRepository=local::file:$REPO)"
[ -n "$WORK" ] || WORK="$(mktemp -d /tmp/phi2j-consumers.XXXXXX)"
case "$WORK" in "$ROOT"/*) die "--work must be outside the checkout ($ROOT)" ;; esac
mkdir -p "$WORK" || die "cannot create $WORK"
M2="$WORK/m2"
export PHI2_CACHE_DIR="$WORK/phi2j-cache"
unset PHI2_HOME PHI2_NATIVE_LIB PHI2_ENGINE PHI2_SHARED_DATA
MVN=(mvn -B -ntp -q -Dmaven.repo.local="$M2" -Dstyle.color=never)
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true"

# --- one consumer project: NAME, extra dependencies, extra build plugins, extra top-level pom parts ---
project() {
  local name="$1" deps="$2" plugins="$3" parent="${4:-}" dir="$WORK/$1"
  rm -rf "$dir" && mkdir -p "$dir/src/main/java/demo"
  cp "$ROOT/tests/consumers/src/demo/App.java" "$dir/src/main/java/demo/"
  cat > "$dir/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  $parent
  <groupId>demo</groupId>
  <artifactId>consumer-$name</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <repositories>
    <repository>
      <id>phi2j-deployed</id>
      <url>file://$REPO</url>
    </repository>
  </repositories>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.github.phi2j</groupId>
        <artifactId>phi2j-bom</artifactId>
        <version>$VERSION</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.github.phi2j</groupId>
      <artifactId>phi2-runtime</artifactId>
    </dependency>
    $deps
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.13.0</version>
      </plugin>
      $plugins
    </plugins>
  </build>
</project>
POM
}
NATIVE_DEP='<dependency><groupId>io.github.phi2j</groupId><artifactId>phi2-native</artifactId><classifier>linux-x86_64</classifier></dependency>'
VULKAN_DEP='<dependency><groupId>io.github.phi2j</groupId><artifactId>phi2-native</artifactId><classifier>linux-x86_64-vulkan</classifier></dependency>'
# shellcheck disable=SC2016 # ${project.build.directory} below is Maven's property, written into the pom as it is
COPY_DEPS='<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  <executions><execution><phase>package</phase><goals><goal>copy-dependencies</goal></goals>
  <configuration><outputDirectory>${project.build.directory}/lib</outputDirectory></configuration></execution></executions></plugin>'
SHADE='<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-shade-plugin</artifactId><version>3.6.0</version>
  <executions><execution><phase>package</phase><goals><goal>shade</goal></goals><configuration>
  <transformers><transformer implementation="org.apache.maven.plugins.shade.resource.ManifestResourceTransformer"><mainClass>demo.App</mainClass></transformer></transformers>
  <filters><filter><artifact>*:*</artifact><excludes><exclude>META-INF/*.SF</exclude><exclude>META-INF/*.DSA</exclude><exclude>META-INF/*.RSA</exclude></excludes></filter></filters>
  </configuration></execution></executions></plugin>'
LANGCHAIN4J_DEPS='<dependency><groupId>io.github.phi2j</groupId><artifactId>phi2-langchain4j</artifactId></dependency>
  <dependency><groupId>dev.langchain4j</groupId><artifactId>langchain4j</artifactId><version>1.19.0</version></dependency>'
SPRING_AI_DEP='<dependency><groupId>io.github.phi2j</groupId><artifactId>phi2-spring-ai-starter</artifactId></dependency>'
SPRING_AI_PLUGIN='<plugin><groupId>org.springframework.boot</groupId><artifactId>spring-boot-maven-plugin</artifactId>
  <configuration><mainClass>demo.SpringAiApp</mainClass></configuration>
  <executions><execution><goals><goal>repackage</goal></goals></execution></executions></plugin>'
EXEC='<plugin><groupId>org.codehaus.mojo</groupId><artifactId>exec-maven-plugin</artifactId><version>3.5.0</version></plugin>'
BOOT_PARENT='<parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.5.7</version><relativePath/></parent>'
BOOT_DEP='<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter</artifactId></dependency>'
BOOT_PLUGIN='<plugin><groupId>org.springframework.boot</groupId><artifactId>spring-boot-maven-plugin</artifactId>
  <configuration><mainClass>demo.BootApp</mainClass></configuration>
  <executions><execution><goals><goal>repackage</goal></goals></execution></executions></plugin>'

wanted() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
FAILED=(); TEXTS=()
run_check() { # NAME EXPECT COMMAND...: runs it in the project's folder, keeps its output, checks the engine line
  local name="$1" expect="$2"; shift 2
  local log="$WORK/$name.log" t0; t0=$(date +%s)
  if (cd "$WORK/$name" && "$@") > "$log" 2>&1; then
    local line; line="$(grep -a '^consumer: \(engine\|model\)=' "$log" | tail -1)"
    say "$name: ok in $(( $(date +%s) - t0 )) s: ${line#consumer: }"
    [ "$expect" = native ] && TEXTS+=("$name ${line##* text=}")
  else
    say "$name: FAILED (log $log):"; tail -25 "$log" >&2; FAILED+=("$name")
  fi
}
build() { (cd "$WORK/$1" && "${MVN[@]}" package -DskipTests) > "$WORK/$1.build.log" 2>&1 || { say "$1: the build failed (log $WORK/$1.build.log):"; tail -25 "$WORK/$1.build.log" >&2; FAILED+=("$1"); return 1; }; }

say "work folder $WORK, phi2j $VERSION from $REPO, model $MODEL"
if wanted plain; then
  project plain "$NATIVE_DEP" "$COPY_DEPS"
  build plain && run_check plain native java -cp "target/classes:target/lib/*" demo.App "$MODEL" native
fi
if wanted exec; then
  project exec "$NATIVE_DEP" "$EXEC"
  build exec && run_check exec native "${MVN[@]}" exec:java -Dexec.mainClass=demo.App "-Dexec.args=$MODEL native"
fi
if wanted shaded; then
  project shaded "$NATIVE_DEP" "$SHADE"
  build shaded && run_check shaded native java -jar target/consumer-shaded-1.0.jar "$MODEL" native
fi
if wanted boot; then
  project boot "$NATIVE_DEP $BOOT_DEP" "$BOOT_PLUGIN" "$BOOT_PARENT"
  cp "$ROOT/tests/consumers/boot/src/demo/BootApp.java" "$WORK/boot/src/main/java/demo/"
  build boot && run_check boot native java -jar target/consumer-boot-1.0.jar "$MODEL" native
fi
if [ $VULKAN -eq 1 ] && wanted vulkan; then
  project vulkan "$NATIVE_DEP $VULKAN_DEP" "$COPY_DEPS"
  if build vulkan; then
    run_check vulkan native env PHI2_CONSUMER_GPU=1 GGML_VK_VISIBLE_DEVICES="${GGML_VK_VISIBLE_DEVICES:-0}" java -cp "target/classes:target/lib/*" demo.App "$MODEL" native
    # every layer, the output layer with them, on the Vulkan device (llama.cpp's own per-layer assignment, as ModelInfo reports it)
    grep -Eq '^consumer: .* placement=([0-9]+)/\1_layers_on_Vulkan0_' "$WORK/vulkan.log" \
      || { say "vulkan: the layers did not all go to Vulkan0: $(grep -o 'placement=[^ ]*' "$WORK/vulkan.log")"; FAILED+=("vulkan-placement"); }
    # the control: with the device hidden (ggml's Vulkan backend passes over llvmpipe unless it is named), asking for the
    # GPU must fail, naming the cause, not run on the CPU
    if (cd "$WORK/vulkan" && env -u GGML_VK_VISIBLE_DEVICES PHI2_CONSUMER_GPU=1 java -cp "target/classes:target/lib/*" demo.App "$MODEL" native) \
         > "$WORK/vulkan-hidden.log" 2>&1; then
      say "vulkan: with the device hidden the consumer still ran (log $WORK/vulkan-hidden.log)"; FAILED+=("vulkan-hidden")
    elif ! grep -q 'no GPU device' "$WORK/vulkan-hidden.log"; then
      say "vulkan: with the device hidden the failure does not name the missing device:"; tail -5 "$WORK/vulkan-hidden.log" >&2; FAILED+=("vulkan-hidden")
    else
      say "vulkan, device hidden: refused as it should be: $(grep -o 'asks for .* no GPU device' "$WORK/vulkan-hidden.log" | sed -n 1p)"
    fi
  fi
fi
# The README's library example, compiled exactly as the README shows it (its first java block under "### Using it",
# in a main method with the imports it needs), run where its model path resolves to the tiny model:
#   readme          with phi2-native: every block runs, the logprobs block prints its 8 tokens
#   readme-binding  without it: the fallback is said before anything runs, and the logprobs block is refused with the
#                   reason and the fix, the example's own line in the stack
readme_example() { # DIR
  mkdir -p "$1/models-gguf" && cp "$MODEL" "$1/models-gguf/phi-2.Q4_K_M.gguf" || return 1
  python3 - "$ROOT/README.md" "$1/src/main/java/demo/ReadmeExample.java" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text[text.index("### Using it"):]
code = re.search(r"```java\n(.*?)```", section, re.S).group(1)
body = "\n".join("        " + line for line in code.splitlines())
open(sys.argv[2], "w", encoding="utf-8").write(
    "package demo;\n\nimport phi2j.runtime.*;\nimport java.nio.file.Path;\n\npublic class ReadmeExample {\n"
    "    public static void main(String[] args) {\n" + body + "\n    }\n}\n")
PY
}
if wanted readme; then
  project readme "$NATIVE_DEP" "$COPY_DEPS"
  if readme_example "$WORK/readme" && build readme; then
    if (cd "$WORK/readme" && java -cp "target/classes:target/lib/*" demo.ReadmeExample) > "$WORK/readme.log" 2>&1 \
       && grep -aq '^Loaded in ' "$WORK/readme.log" && [ "$(grep -acE '^-?[0-9]+ .* -?[0-9]+\.[0-9]{3}$' "$WORK/readme.log")" -ge 8 ] \
       && ! grep -aq 'de.kherud:llama binding' "$WORK/readme.log"; then
      say "readme: the README's example ran every block on the native engine ($(grep -ac . "$WORK/readme.log") lines)"
    else
      say "readme: the README's example failed (log $WORK/readme.log):"; tail -15 "$WORK/readme.log" | cat -v >&2; FAILED+=("readme")
    fi
  else
    FAILED+=("readme")
  fi
fi
# langchain4j: a LangChain4j application (langchain4j 1.19 for AiServices and the in-memory store, phi2-langchain4j,
# phi2-native): an AiServices record through the JSON schema for 10 seeds, a stream cancelled from its handle, and an
# embedding store that finds each text nearest to itself
if wanted langchain4j; then
  project langchain4j "$NATIVE_DEP $LANGCHAIN4J_DEPS" "$COPY_DEPS"
  cp "$ROOT/tests/consumers/langchain4j/src/demo/LangChainApp.java" "$WORK/langchain4j/src/main/java/demo/"
  build langchain4j && run_check langchain4j langchain4j java -cp "target/classes:target/lib/*" demo.LangChainApp "$MODEL"
  grep -q '^consumer: engine=native records=10 cancelled=yes .* nearest=self' "$WORK/langchain4j.log" 2>/dev/null \
    || { say "langchain4j: the application did not report its three checks (log $WORK/langchain4j.log)"; FAILED+=("langchain4j-report"); }
fi
# spring-ai: a Spring Boot application with only phi2-spring-ai-starter, phi2-native and spring.ai.phi2.model in its
# application.properties: ChatClient call, stream, and the entity route; then the same jar with a missing model file
# and with a misspelt option must fail to start, naming the property and the file, and the option
if wanted spring-ai; then
  project spring-ai "$NATIVE_DEP $SPRING_AI_DEP" "$SPRING_AI_PLUGIN" "$BOOT_PARENT"
  cp "$ROOT/tests/consumers/spring-ai/src/demo/SpringAiApp.java" "$WORK/spring-ai/src/main/java/demo/"
  mkdir -p "$WORK/spring-ai/src/main/resources" && cp "$ROOT/tests/consumers/spring-ai/resources/application.properties" "$WORK/spring-ai/src/main/resources/"
  if build spring-ai; then
    PHI2_CONSUMER_MODEL="$MODEL" run_check spring-ai spring-ai java -jar target/consumer-spring-ai-1.0.jar
    grep -q '^consumer: model=Phi2ChatModel .* records=3' "$WORK/spring-ai.log" 2>/dev/null \
      || { say "spring-ai: the application did not report its checks (log $WORK/spring-ai.log)"; FAILED+=("spring-ai-report"); }
    (cd "$WORK/spring-ai" && PHI2_CONSUMER_MODEL=/nonexistent/phi-2.gguf java -jar target/consumer-spring-ai-1.0.jar) > "$WORK/spring-ai-missing.log" 2>&1 \
      && { say "spring-ai: started with a missing model file"; FAILED+=("spring-ai-missing"); }
    grep -aA5 'APPLICATION FAILED TO START' "$WORK/spring-ai-missing.log" | grep -aq '^spring.ai.phi2.model: /nonexistent/phi-2.gguf does not exist' \
      || { say "spring-ai: a missing model file was not named (log $WORK/spring-ai-missing.log)"; FAILED+=("spring-ai-missing-message"); }
    (cd "$WORK/spring-ai" && PHI2_CONSUMER_MODEL="$MODEL" java -jar target/consumer-spring-ai-1.0.jar --spring.ai.phi2.chat.options.temprature=0.5) \
      > "$WORK/spring-ai-unknown.log" 2>&1 && { say "spring-ai: started with a misspelt option"; FAILED+=("spring-ai-unknown"); }
    grep -aq 'spring.ai.phi2.chat.options.temprature' "$WORK/spring-ai-unknown.log" \
      || { say "spring-ai: a misspelt option was not named (log $WORK/spring-ai-unknown.log)"; FAILED+=("spring-ai-unknown-message"); }
  fi
fi
if wanted readme-binding; then
  project readme-binding "" "$COPY_DEPS"
  if readme_example "$WORK/readme-binding" && build readme-binding; then
    (cd "$WORK/readme-binding" && java -cp "target/classes:target/lib/*" demo.ReadmeExample) > "$WORK/readme-binding.log" 2>&1
    rc=$?
    log="$WORK/readme-binding.log"
    warn_at=$(grep -an 'phi2j: running on the de.kherud:llama binding, .*io.github.phi2j:phi2-native' "$log" | cut -d: -f1 | sed -n 1p)
    loaded_at=$(grep -an '^Loaded in ' "$log" | cut -d: -f1 | sed -n 1p)
    if [ $rc -ne 0 ] && [ -n "$warn_at" ] && [ -n "$loaded_at" ] && [ "$warn_at" -lt "$loaded_at" ] \
       && grep -aq 'InvalidOptionException: logprobs: needs the native engine .*this model runs on the binding; .*phi2-native' "$log" \
       && grep -aq 'at demo.ReadmeExample.main(ReadmeExample.java' "$log"; then
      say "readme-binding: the fallback said before loading, the logprobs block refused with the fix and the example's line"
    else
      say "readme-binding: not as it should be (exit $rc, log $log):"; tail -15 "$log" | cat -v >&2; FAILED+=("readme-binding")
    fi
  else
    FAILED+=("readme-binding")
  fi
fi
if wanted binding; then
  project binding "" "$COPY_DEPS"
  build binding && run_check binding binding java -cp "target/classes:target/lib/*" demo.App "$MODEL" binding
  # the fallback is said on stderr (once, through the logger) before anything runs, with how to get the engine
  grep -q 'phi2j: running on the de.kherud:llama binding, .*io.github.phi2j:phi2-native' "$WORK/binding.log" \
    || { say "binding: no warning that AUTO fell back to the binding"; FAILED+=("binding-warning"); }
fi
if [ ${#TEXTS[@]} -gt 1 ]; then
  first="${TEXTS[0]#* }"
  for t in "${TEXTS[@]}"; do
    [ "${t#* }" = "$first" ] || { say "the greedy text differs: ${t%% *} gave ${t#* }, ${TEXTS[0]%% *} gave $first"; FAILED+=("text-${t%% *}"); }
  done
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  say "FAILED: ${FAILED[*]}"
  exit 1
fi
say "all consumers passed (${#TEXTS[@]} native runs gave the same text)"
