# Installation and the CMake package: after `cmake --install`, another project
# uses coreio with
#   find_package(coreio CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE coreio::coreio)
# Included from the top-level CMakeLists.txt after the `coreio` target exists.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(COREIO_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/coreio"
    CACHE STRING "Where to install coreio's CMake package files, relative to the prefix")

# The exported target is coreio::coreio, as is the in-tree alias.
set_target_properties(coreio PROPERTIES EXPORT_NAME coreio)
# The HTTP layer is coreio::http, in the same export set.
set_target_properties(coreio_http PROPERTIES EXPORT_NAME http)

install(TARGETS coreio coreio_http
  EXPORT coreioTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# (Usage requirements for the include directory come from the target's own
# $<INSTALL_INTERFACE:include>, so no INCLUDES DESTINATION here.)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/coreio"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h" PATTERN "*.ipp")

# The profiling tools (issue 13): Python 3 scripts, standard library only.
install(PROGRAMS "${PROJECT_SOURCE_DIR}/tools/coreio-trace" "${PROJECT_SOURCE_DIR}/tools/coreio-top"
        DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(EXPORT coreioTargets
  NAMESPACE coreio::
  FILE coreioTargets.cmake
  DESTINATION ${COREIO_INSTALL_CMAKEDIR})

# The static library links mimalloc privately; its users still need the
# `mimalloc` target at link time, so the package config looks it up when the
# library was built with it. COREIO_PACKAGE_MIMALLOC is substituted into the
# config as ON or OFF.
if(COREIO_MIMALLOC)
  set(COREIO_PACKAGE_MIMALLOC ON)
else()
  set(COREIO_PACKAGE_MIMALLOC OFF)
endif()

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/coreioConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/coreioConfig.cmake"
  INSTALL_DESTINATION ${COREIO_INSTALL_CMAKEDIR})

write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/coreioConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/coreioConfig.cmake"
  "${PROJECT_BINARY_DIR}/coreioConfigVersion.cmake"
  DESTINATION ${COREIO_INSTALL_CMAKEDIR})
