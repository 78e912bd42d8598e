# Test helpers.
#
# bh_add_test_binary(NAME SOURCES ... LIBS ... [TIMEOUT s] [LABELS ...])
#   Builds a cmocka test program that uses BH_TEST_MAIN() (common/bhtest.h)
#   and registers every test case in it as its own ctest test, each run in
#   its own process ("NAME --run CASE") with its own timeout. The list of
#   cases is read from "NAME --list" after every build, so adding a case
#   needs no CMake change.
function(bh_add_test_binary name)
    cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
    if(NOT A_TIMEOUT)
        set(A_TIMEOUT 60)
    endif()
    add_executable(${name} ${A_SOURCES})
    target_link_libraries(${name} PRIVATE ${A_LIBS} bhtest)
    set(tests_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_tests.cmake")
    set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_include.cmake")
    add_custom_command(TARGET ${name} POST_BUILD
        COMMAND ${CMAKE_COMMAND} -D BIN=$<TARGET_FILE:${name}> -D OUT=${tests_file}
                -D PREFIX=${name} -D TIMEOUT=${A_TIMEOUT} "-D LABELS=${A_LABELS}"
                -P ${BH_CMAKE_DIR}/BhDiscover.cmake
        BYPRODUCTS ${tests_file} VERBATIM)
    file(WRITE ${include_file}
        "if(EXISTS \"${tests_file}\")\n  include(\"${tests_file}\")\n"
        "else()\n  add_test(${name}_NOT_BUILT ${name}_NOT_BUILT)\nendif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()

# bh_add_script_test(NAME COMMAND ... [TIMEOUT s] [LABELS ...])
function(bh_add_script_test name)
    cmake_parse_arguments(A "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
    if(NOT A_TIMEOUT)
        set(A_TIMEOUT 120)
    endif()
    add_test(NAME ${name} COMMAND ${A_COMMAND})
    set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT}
        ENVIRONMENT "BH_BUILD_DIR=${CMAKE_BINARY_DIR};BH_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    if(A_LABELS)
        set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
    endif()
endfunction()

# bh_add_fuzz_target(NAME SOURCES ... LIBS ... CORPUS dir)
#   The entry point LLVMFuzzerTestOneInput in SOURCES runs over every file
#   of CORPUS as an ordinary ctest test ("NAME.corpus"). With -DBH_FUZZ=ON
#   (and CC=clang) NAME-fuzzer is also built as a libFuzzer binary.
function(bh_add_fuzz_target name)
    cmake_parse_arguments(A "" "CORPUS" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${A_SOURCES} ${CMAKE_SOURCE_DIR}/common/fuzz_main.c)
    target_link_libraries(${name} PRIVATE ${A_LIBS})
    add_test(NAME ${name}.corpus COMMAND ${name} ${A_CORPUS})
    set_tests_properties(${name}.corpus PROPERTIES TIMEOUT 300)
    if(BH_FUZZ)
        add_executable(${name}-fuzzer ${A_SOURCES})
        target_compile_options(${name}-fuzzer PRIVATE -fsanitize=fuzzer)
        target_link_options(${name}-fuzzer PRIVATE -fsanitize=fuzzer)
        target_link_libraries(${name}-fuzzer PRIVATE ${A_LIBS})
    endif()
endfunction()
