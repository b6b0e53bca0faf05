# projd_add_worker(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds a complete projd worker binary (every `projd` subcommand) from the projections in
# SOURCES plus projd's own main. Projections register themselves by linking
# (PROJD_REGISTER_PROJECTION, PROJD_REGISTER_PROJECTION_FACTORY), so their sources are
# compiled straight into the executable: a static library would let the linker drop the
# registrations. A team that writes its own main() (projd::RunWorker) links projd::sdk.
#
# One function for this tree and for the installed package (find_package(projd), which
# includes this file): it uses only the targets projd::main and projd::sdk.
# WITH_EXAMPLES (this tree only) adds the example projections of the stock `projd` binary.
function(projd_add_worker name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "WITH_EXAMPLES" "" "SOURCES;LIBRARIES")
  if(NOT ARG_SOURCES AND NOT ARG_WITH_EXAMPLES)
    message(FATAL_ERROR "projd_add_worker(${name}): give SOURCES with at least one projection")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  if(ARG_WITH_EXAMPLES)
    if(NOT TARGET projd_example_projections)
      message(FATAL_ERROR "projd_add_worker(${name}): WITH_EXAMPLES exists only in projd's own build")
    endif()
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:projd_example_projections>)
  endif()
  target_link_libraries(${name} PRIVATE projd::main projd::sdk ${ARG_LIBRARIES})
endfunction()
