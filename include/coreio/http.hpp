// coreio/http.hpp — coreio::http: the HTTP/1.1 client (aiohttp's ClientSession) and server
// (aiohttp.web), their options, the shared response type and the errors.
#pragma once

#include <coreio/http/client.hpp>
#include <coreio/http/errors.hpp>
#include <coreio/http/metrics_handler.hpp>
#include <coreio/http/options.hpp>
#include <coreio/http/response.hpp>
#include <coreio/http/server.hpp>
#include <coreio/http/tasks_handler.hpp>
