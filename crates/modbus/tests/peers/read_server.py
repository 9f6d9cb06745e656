"""Reads Joule's Modbus server the way a third-party client would, with pymodbus.

Usage: read_server.py PORT. Prints one JSON object: the SDM630 floats by address
(function 04), the SunSpec chain decoded with its scale factors (function 03), and the
exception codes pymodbus sees for a write and for reads outside the maps.
"""

import json
import sys

from pymodbus.client import ModbusTcpClient

port = int(sys.argv[1])
client = ModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
if not client.connect():
    sys.exit(f"cannot connect to 127.0.0.1:{port}")
FLOAT32 = ModbusTcpClient.DATATYPE.FLOAT32


def registers(read, address, count):
    answer = read(address, count=count, slave=1)
    if answer.isError():
        sys.exit(f"reading {count} registers at {address}: {answer}")
    return answer.registers


def floats(address, count):
    values = client.convert_from_registers(
        registers(client.read_input_registers, address, count), data_type=FLOAT32
    )
    values = values if isinstance(values, list) else [values]
    return {str(address + 2 * i): value for i, value in enumerate(values)}


sdm = {}
for address, count in [(0x0000, 80), (0x0050, 8), (0x0156, 4)]:
    sdm.update(floats(address, count))

# SunSpec: the whole block in reads of at most 125 registers, then walk the chain.
block = registers(client.read_holding_registers, 40000, 125)
block += registers(client.read_holding_registers, 40125, 54)
if block[0:2] != [0x5375, 0x6E53]:
    sys.exit(f"no SunS marker: {block[0:2]}")


def text(words):
    raw = b"".join(word.to_bytes(2, "big") for word in words)
    return raw.rstrip(b"\0").decode()


def int16(word):
    return word - 0x10000 if word & 0x8000 else word


# Meter model 201/203 points after ID and L, as the SunSpec model JSON lists them.
METER_POINTS = [("A", 1), ("AphA", 1), ("AphB", 1), ("AphC", 1), ("A_SF", 1)]
METER_POINTS += [
    (name, 1)
    for name in ("PhV", "PhVphA", "PhVphB", "PhVphC", "PPV", "PhVphAB", "PhVphBC", "PhVphCA")
    + ("V_SF", "Hz", "Hz_SF")
]
for group in ("W", "VA", "VAR", "PF"):
    METER_POINTS += [(group + p, 1) for p in ("", "phA", "phB", "phC")] + [(group + "_SF", 1)]
for energy, parts in (
    ("TotWh", ("Exp", "Imp")),
    ("TotVAh", ("Exp", "Imp")),
    ("TotVArh", ("ImpQ1", "ImpQ2", "ExpQ3", "ExpQ4")),
):
    for part in parts:
        METER_POINTS += [(energy + part + p, 2) for p in ("", "PhA", "PhB", "PhC")]
    METER_POINTS += [(energy + "_SF", 1)]
METER_POINTS += [("Evt", 2)]

models, common, meter = [], {}, {}
at = 2
while True:
    model, length = block[at], block[at + 1]
    models.append([model, length])
    body = block[at + 2 : at + 2 + length]
    if model == 0xFFFF:
        break
    if model == 1:
        common = {
            "Mn": text(body[0:16]),
            "Md": text(body[16:32]),
            "Opt": text(body[32:40]),
            "Vr": text(body[40:48]),
            "SN": text(body[48:64]),
            "DA": body[64],
        }
    if model in (201, 203):
        raw, offset = {}, 0
        for name, size in METER_POINTS:
            words = body[offset : offset + size]
            raw[name] = int16(words[0]) if size == 1 else words[0] << 16 | words[1]
            offset += size
        if offset != length:
            sys.exit(f"model {model} has {length} registers, the points {offset}")
        for name, value in raw.items():
            if name.endswith("_SF") or name == "Evt":
                continue
            if name.startswith("Tot"):
                scale = raw[name.split("Exp")[0].split("Imp")[0] + "_SF"]
            elif name.startswith("PhV") or name == "PPV":
                scale = raw["V_SF"]
            else:
                scale = raw[name.replace("phA", "").replace("phB", "").replace("phC", "") + "_SF"]
            implemented = value != -0x8000 if not name.startswith("Tot") else value != 0
            meter[name] = value * 10.0**scale if implemented else None
        meter["Evt"] = raw["Evt"]
    at += 2 + length


def exception(answer):
    return answer.exception_code if answer.isError() else None


exceptions = {
    "write_register": exception(client.write_register(0, 1, slave=1)),
    "write_registers": exception(client.write_registers(40000, [1, 2], slave=1)),
    "input_past_map": exception(client.read_input_registers(0x017E, count=2, slave=1)),
    "holding_below_sunspec": exception(client.read_holding_registers(0, count=2, slave=1)),
    "holding_past_end": exception(client.read_holding_registers(40178, count=2, slave=1)),
}
client.close()
print(json.dumps({"sdm": sdm, "sunspec": {"models": models, "common": common, "meter": meter}, "exceptions": exceptions}))
