"""A pymodbus server impersonating an Eastron SDM630 with known readings.

Usage: sdm_server.py tcp PORT   (Modbus TCP on 127.0.0.1:PORT)
       sdm_server.py rtu        (Modbus RTU on a pseudo-terminal; prints its path)

Prints "ready PATH-OR-PORT" once it answers. Unit 1 holds the readings below as float32,
high word first, at the SDM630 manual's input-register addresses; unit 3 holds only
0x0000..0x001F, so longer reads get pymodbus's IllegalAddress exception.
"""

import asyncio
import os
import select
import struct
import sys
import threading
import tty

from pymodbus import FramerType
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

READINGS = {
    0x0000: 229.5, 0x0002: 231.0, 0x0004: 232.25,  # volts
    0x0006: 8.5, 0x0008: 2.25, 0x000A: 0.5,  # amps
    0x000C: 1900.0, 0x000E: -480.0, 0x0010: 100.0,  # watts
    0x0012: 1950.75, 0x0014: 519.75, 0x0016: 116.125,  # VA
    0x0018: 410.0, 0x001A: -150.0, 0x001C: 55.0,  # var
    0x001E: 0.974, 0x0020: -0.92, 0x0022: 0.86,  # power factor
    0x0034: 1520.0, 0x0038: 2586.625, 0x003C: 315.0, 0x003E: 0.59,  # totals
    0x0046: 50.02,  # Hz
    0x0048: 4321.5, 0x004A: 765.25, 0x004C: 321.125, 0x004E: 45.5,  # kWh, kVArh
    0x0054: 1333.0, 0x0056: 7450.0,  # demand W
}


def registers(last):
    words = [0] * last
    for address, value in READINGS.items():
        if address + 2 <= last:
            words[address : address + 2] = struct.unpack(">HH", struct.pack(">f", value))
    return words


def context():
    # pymodbus 3.8 adds 1 to every request address before looking into a block, so a
    # block starting at 1 holds PDU address 0.
    full = ModbusSlaveContext(ir=ModbusSequentialDataBlock(1, registers(0x0180)))
    short = ModbusSlaveContext(ir=ModbusSequentialDataBlock(1, registers(0x0020)))
    return ModbusServerContext(slaves={1: full, 3: short}, single=False)


def pty_pair():
    """Two pseudo-terminals joined like a null-modem cable; returns their paths."""
    ends = []
    for _ in range(2):
        master, slave = os.openpty()
        tty.setraw(slave)
        ends.append((master, slave, os.ttyname(slave)))

    def relay():
        masters = {ends[0][0]: ends[1][0], ends[1][0]: ends[0][0]}
        while True:
            readable, _, _ = select.select(list(masters), [], [])
            for source in readable:
                try:
                    data = os.read(source, 4096)
                except OSError:
                    continue  # the other side closed its end; it may open it again
                os.write(masters[source], data)

    threading.Thread(target=relay, daemon=True).start()
    return ends[0][2], ends[1][2]


async def main():
    if sys.argv[1] == "tcp":
        port = int(sys.argv[2])
        server = ModbusTcpServer(context(), address=("127.0.0.1", port))
        where = str(port)
    else:
        ours, theirs = pty_pair()
        server = ModbusSerialServer(context(), framer=FramerType.RTU, port=ours, baudrate=9600)
        where = theirs
    task = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(0.5)
    print("ready", where, flush=True)
    await task


asyncio.run(main())
