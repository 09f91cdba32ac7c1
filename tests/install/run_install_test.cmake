# Script behind the CTest test install.consumer (see install_test.cmake).
# Inputs (-D): COREIO_BUILD_DIR, COREIO_CONFIG, CONSUMER_SOURCE_DIR, WORK_DIR,
#              CONSUMER_GENERATOR, CONSUMER_CXX_COMPILER, CONSUMER_FLAGS (one string).
cmake_minimum_required(VERSION 3.25)

foreach(var COREIO_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_install_test.cmake: ${var} is not set")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step name)
  message(STATUS "install.consumer: ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install.consumer: ${name} failed (${rc})\n"
                        "command: ${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# 1. Install the build tree.
set(config_args "")
if(COREIO_CONFIG)
  set(config_args --config "${COREIO_CONFIG}")
endif()
step("cmake --install" "${CMAKE_COMMAND}" --install "${COREIO_BUILD_DIR}"
     --prefix "${prefix}" ${config_args})

# 2. Configure the consumer against the prefix only (no package registry).
set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(CONSUMER_GENERATOR)
  list(APPEND configure_args -G "${CONSUMER_GENERATOR}")
endif()
if(CONSUMER_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}")
endif()
if(COREIO_CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${COREIO_CONFIG}")
endif()
if(CONSUMER_FLAGS)
  list(APPEND configure_args
    "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}")
endif()
step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})

# The package must have come from the prefix, not from the build tree.
file(STRINGS "${consumer_build}/CMakeCache.txt" coreio_dir_line REGEX "^coreio_DIR:")
file(REAL_PATH "${prefix}" real_prefix)
string(REGEX REPLACE "^coreio_DIR:[A-Z]+=" "" coreio_dir "${coreio_dir_line}")
file(REAL_PATH "${coreio_dir}" real_coreio_dir)
string(FIND "${real_coreio_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install.consumer: coreio was found at '${coreio_dir}', not under '${prefix}'")
endif()

# 3. Build it.
step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# 4. Run it and check what it printed.
set(exe "${consumer_build}/consumer")
if(NOT EXISTS "${exe}" AND COREIO_CONFIG AND EXISTS "${consumer_build}/${COREIO_CONFIG}/consumer")
  set(exe "${consumer_build}/${COREIO_CONFIG}/consumer")
endif()
step("run consumer" "${exe}")
string(STRIP "${step_output}" step_output)
if(NOT step_output MATCHES "consumer result=74")
  message(FATAL_ERROR "install.consumer: unexpected output:\n${step_output}")
endif()
message(STATUS "install.consumer: ok (${step_output})")
