"""catalog hardware [--calibrate]"""

from __future__ import annotations

import click

from catalog.cli._common import format_choice, whole


@click.command("hardware")
@click.option("--calibrate", is_flag=True,
              help="Measure the matmul peak per dtype and memory bandwidth (torch, else numpy).")  # fmt: skip
@click.option("--device", type=click.Choice(["cpu", "cuda", "mps"]), default="cpu", show_default=True,
              help="Device to calibrate.")  # fmt: skip
@click.option("--threads", type=whole(1, 4096), help="Threads to calibrate with (default: the physical cores).")
@format_choice("table", "json")
def hardware_command(calibrate: bool, device: str, threads: int | None, fmt: str) -> None:
    """This machine: CPU, cores, ISA flags, RAM, GPUs, software, and the calibrated matmul peak and memory bandwidth
    that `catalog bench run` compares achieved GFLOP/s against and `catalog estimate` builds on."""
    from catalog import hardware

    if calibrate:
        import sys

        hardware.calibrate(device, threads, progress=lambda text: print(f"calibrating: {text} …", file=sys.stderr))
    info = hardware.describe(with_torch=calibrate)
    if fmt == "json":
        from catalog.output import render_json

        render_json(info)
        return
    from rich.console import Console
    from rich.table import Table

    hw, sw = info["hardware"], info["software"]
    table = Table(title=f"This machine ({hw['machine_id']})", show_header=False)
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    table.add_row("CPU", str(hw["cpu_model"]))
    table.add_row("cores", f"{hw['physical_cores']} physical, {hw['logical_cores']} logical")
    table.add_row("ISA", " ".join(hw["isa"]) or "—")
    table.add_row("RAM", f"{hw['ram_gb']} GB")
    gpus = [
        f"{g.get('name')} ({g.get('memory_mb', 0) / 1024:.0f} GB, driver {g.get('driver', '?')})" for g in hw["gpus"]
    ]
    table.add_row("GPU", ", ".join(gpus) or "none found")
    table.add_row("OS", f"{hw['os']} ({hw['machine']})")
    table.add_row("Python", sw["python"])
    table.add_row("torch / transformers", f"{sw['torch'] or 'not installed'} / {sw['transformers'] or 'not installed'}")
    if info["calibration"]:
        for key, entry in sorted(info["calibration"].items()):
            peaks = ", ".join(f"{dtype} {value:.0f}" for dtype, value in entry["gflops"].items())
            bandwidth = entry.get("bandwidth_gbs")
            memory = f", memory {bandwidth:.1f} GB/s" if bandwidth else ""
            library = entry.get("library", "torch")
            table.add_row(f"calibrated {key}", f"matmul {peaks} GFLOP/s{memory} ({library}, {entry['measured_at']})")
    else:
        table.add_row("matmul peak", "not calibrated: run `catalog hardware --calibrate`")
    Console().print(table)


COMMANDS = [hardware_command]
