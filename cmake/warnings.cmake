# coreio_warnings(<target>): the project's warning set, PRIVATE to <target>.
# GCC and Clang get -Wall -Wextra -Wpedantic; -Werror only with COREIO_WERROR=ON.
option(COREIO_WERROR "Treat compiler warnings as errors" OFF)

function(coreio_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      # A -Wno-<gcc-only warning> (CMakeLists.txt turns off -Wmaybe-uninitialized on the net
      # sources) is ignored by GCC when unknown, but is an error for clang under -Werror.
      target_compile_options(${target} PRIVATE -Wno-unknown-warning-option)
    endif()
    if(COREIO_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4)
    if(COREIO_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  endif()
endfunction()
