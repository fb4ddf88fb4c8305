#!/usr/bin/env python3
"""The network between two brokers of the demo, on loopback: a TCP proxy that
passes bytes to TARGET_PORT on 127.0.0.1, and that the demo cuts (SIGUSR1: every
connection closed, new ones closed at once, as when a province's line is down)
and heals (SIGUSR2).

    link_proxy.py PORT_FILE TARGET_PORT

Listens on 127.0.0.1, on a port the kernel picks, written to PORT_FILE.
"""
import asyncio
import signal
import sys

cut = False
open_writers = set()


async def pipe(reader, writer):
    try:
        while not cut:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer, target_port):
    if cut:
        client_writer.close()
        return
    try:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    open_writers.update({client_writer, target_writer})
    await asyncio.gather(pipe(client_reader, target_writer), pipe(target_reader, client_writer))
    open_writers.difference_update({client_writer, target_writer})


def set_cut(value):
    global cut
    cut = value
    if value:
        for w in list(open_writers):
            w.close()


async def main():
    port_file, target_port = sys.argv[1], int(sys.argv[2])
    server = await asyncio.start_server(lambda r, w: handle(r, w, target_port), "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, set_cut, True)
    loop.add_signal_handler(signal.SIGUSR2, set_cut, False)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
