# projd_add_worker(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds a complete projd worker binary (every `projd` subcommand) from the projections in
# SOURCES plus projd's own main. Projections register themselves by linking
# (PROJD_REGISTER_PROJECTION), so their sources are compiled straight into the executable:
# a static library would let the linker drop the registrations.
function(projd_add_worker name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "WITH_EXAMPLES" "" "SOURCES;LIBRARIES")
  if(NOT ARG_SOURCES AND NOT ARG_WITH_EXAMPLES)
    message(FATAL_ERROR "projd_add_worker(${name}): give SOURCES with at least one projection")
  endif()
  add_executable(${name} ${ARG_SOURCES} $<TARGET_OBJECTS:projd_main>)
  if(ARG_WITH_EXAMPLES)
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:projd_example_projections>)
  endif()
  target_link_libraries(${name} PRIVATE projd::cli projd::projections ${ARG_LIBRARIES})
endfunction()
