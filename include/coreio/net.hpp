// coreio/net.hpp — coreio::net: TCP and Unix domain streams and listeners, serve(), UDP, name
// resolution.
#pragma once

#include <coreio/net/endpoint.hpp>
#include <coreio/net/resolve.hpp>
#include <coreio/net/serve.hpp>
#include <coreio/net/stream.hpp>
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/net/udp_socket.hpp>
#include <coreio/net/unix_listener.hpp>
#include <coreio/net/unix_stream.hpp>
