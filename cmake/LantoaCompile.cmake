# Compiler settings shared by every Lantoa target.
#
# lantoa_target_defaults(TARGET) turns on the warning set (errors with
# LANTOA_WERROR) for code we write. Generated code (protobuf) gets the
# sanitizers but not -Werror.

if(LANTOA_SANITIZE)
  # Applied globally so that every object, generated or not, is instrumented.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(LANTOA_FUZZ)
  # Coverage instrumentation for libFuzzer plus the sanitizers, everywhere.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

function(lantoa_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual)
  if(LANTOA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
