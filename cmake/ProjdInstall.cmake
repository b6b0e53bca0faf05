# Install rules, the CMake package and the Debian packages.
#
#   cmake --install build --prefix P    P/bin/projd, P/lib/libprojd_*.a, P/include/projd/*.h,
#                                       P/lib/cmake/projd (find_package(projd CONFIG))
#   make package                        build/projd_<version>_<arch>.deb (component runtime)
#                                       build/projd-dev_<version>_<arch>.deb (component dev)
#
# Components: `runtime` is the stock binary; `dev` is the SDK a team builds its own worker
# with (the static libraries a worker links, the public headers include/projd/*.h only, the
# CMake package with projd_add_worker). Internal headers are never installed: the libraries'
# include paths are $<BUILD_INTERFACE:...> and installed targets see only <prefix>/include.
include(CMakePackageConfigHelpers)

set(PROJD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/projd" CACHE STRING
  "Where the projd CMake package is installed (relative to the prefix)")

install(TARGETS projd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# What a worker links: main(), the command line, the projection runtime and what they use.
set(projd_sdk_archives projd_main projd_cli projd_projections projd_stream_stats_check projd_pg projd_http
  projd_orchestrator projd_migrations projd_devtools)
install(TARGETS ${projd_sdk_archives} projd_sdk EXPORT projdTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/projd DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h")

# `cmake --install --strip` and the packages (CPACK_STRIP_FILES) also drop the archives'
# debug information (about 250 MB of the RelWithDebInfo build); symbols stay.
if(CMAKE_STRIP)
  foreach(archive ${projd_sdk_archives})
    install(CODE "
      if(CMAKE_INSTALL_DO_STRIP)
        execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
          \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${archive}>\"
          COMMAND_ERROR_IS_FATAL ANY)
      endif()" COMPONENT dev)
  endforeach()
endif()

install(EXPORT projdTargets NAMESPACE projd:: DESTINATION ${PROJD_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/projdConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/projdConfig.cmake
  INSTALL_DESTINATION ${PROJD_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/projdConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/projdConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/projdConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/ProjdWorker.cmake
  DESTINATION ${PROJD_INSTALL_CMAKEDIR} COMPONENT dev)

# Debian packages (`make package`, bookworm). Two, because their users differ: `projd` is
# the stock binary and needs only the shared libraries it links (found by dpkg-shlibdeps);
# `projd-dev` is for building a worker and needs the compiler, CMake and every -dev package
# the installed CMake package finds. Installed under /usr; the CMake package is relocatable.
if(PROJECT_IS_TOP_LEVEL)
  set(CPACK_PACKAGE_NAME projd)
  set(CPACK_PACKAGE_VENDOR "projd")
  set(CPACK_PACKAGE_CONTACT "projd maintainers <projd@localhost>" CACHE STRING "Maintainer field of the packages")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed projection orchestrator over PostgreSQL")
  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_STRIP_FILES ON)
  set(CPACK_DEB_COMPONENT_INSTALL ON)
  set(CPACK_COMPONENTS_ALL runtime dev)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

  set(CPACK_COMPONENT_RUNTIME_DISPLAY_NAME "projd")
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "the projd worker binary with projd's example projections")
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME projd)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)

  set(CPACK_COMPONENT_DEV_DISPLAY_NAME "projd SDK")
  set(CPACK_COMPONENT_DEV_DESCRIPTION
    "projd SDK: headers (include/projd), static libraries and the CMake package for building workers (find_package(projd) and projd_add_worker)")
  set(CPACK_DEBIAN_DEV_PACKAGE_NAME projd-dev)
  set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
  # The archives were compiled against bookworm's fmt 9 and spdlog 1.10 (their symbols are
  # in the archives), hence the upper bounds.
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "projd (= ${PROJECT_VERSION}), g++ (>= 4:12), cmake (>= 3.25), pkg-config, libpqxx-dev (>= 6.4), libpqxx-dev (<< 7), libpq-dev, libboost-dev (>= 1.74), libspdlog-dev (>= 1:1.10), libspdlog-dev (<< 1:1.11), libfmt-dev (>= 9), libfmt-dev (<< 10), libcli11-dev, nlohmann-json3-dev (>= 3), prometheus-cpp-dev (>= 1.0)")
  include(CPack)
endif()
