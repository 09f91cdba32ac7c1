# Included by tests/CMakeLists.txt: registers the install.consumer test.
#
# install.consumer installs this build tree into a prefix under the build dir,
# configures and builds tests/install (a separate project using
# find_package(coreio CONFIG)) against it, runs the program and checks its
# output. The consumer is built with the same compiler, generator and
# sanitizer flags as this tree, so it also runs in the tsan/asan builds.
set(_coreio_install_test_dir "${CMAKE_CURRENT_LIST_DIR}")
# Compiler and linker flags for the consumer, as one space-separated string.
set(_coreio_install_test_flags ${COREIO_SANITIZE_FLAGS})
if(COREIO_SANITIZE_DEFINITION)
  list(APPEND _coreio_install_test_flags "-D${COREIO_SANITIZE_DEFINITION}")
endif()
list(JOIN _coreio_install_test_flags " " _coreio_install_test_flags)
add_test(NAME install.consumer
  COMMAND ${CMAKE_COMMAND}
    "-DCOREIO_BUILD_DIR=${PROJECT_BINARY_DIR}"
    "-DCOREIO_CONFIG=$<CONFIG>"
    "-DCONSUMER_SOURCE_DIR=${_coreio_install_test_dir}"
    "-DWORK_DIR=${PROJECT_BINARY_DIR}/install-test"
    "-DCONSUMER_GENERATOR=${CMAKE_GENERATOR}"
    "-DCONSUMER_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    "-DCONSUMER_FLAGS=${_coreio_install_test_flags}"
    -P "${_coreio_install_test_dir}/run_install_test.cmake")
set_tests_properties(install.consumer PROPERTIES
  LABELS unit
  TIMEOUT 600
  # Owns ${PROJECT_BINARY_DIR}/install-test; never runs beside itself.
  RESOURCE_LOCK coreio_install_test)
unset(_coreio_install_test_dir)
unset(_coreio_install_test_flags)
