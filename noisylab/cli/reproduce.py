"""``noisylab reproduce blog|drory``: a published protocol at a stated scale, ours vs published."""

from __future__ import annotations

import os

import click

from noisylab.cli._common import user_errors


def _fmt(value) -> str:
    import math

    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


@click.command("reproduce")
@click.argument("protocol", type=click.Choice(["blog", "drory"]))
@click.option("--scale", type=click.Choice(["small", "full"]), default="small", show_default=True,
              help="small: a 10,000-image MNIST subset (ESTIMATE 25-50 min on 2 CPU cores); "
                   "full: the whole training set (ESTIMATE hours).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: results/reproduce-PROTOCOL-SCALE]; the sweep goes "
                   "to OUT/sweep and resumes there.")
@click.option("--force", is_flag=True, help="Redo runs already finished in OUT/sweep.")
@user_errors
def reproduce(protocol, scale, out, force):
    """Run a published protocol on real MNIST and write ours vs published.

    blog: the blog's 11 levels of symmetric noise with its network (blog-cnn), weighted F1
    against true and noisy labels next to its F1Scores.csv. drory: random, flip and
    concentrated noise with drory-mnist, checked against Drory et al.'s findings, with the
    K-NN model overlaid. Writes OUT/comparison.csv, OUT/comparison.png and OUT/sweep/. Needs
    `noisylab data prepare mnist` first.
    """
    from rich.console import Console

    from noisylab.cli.sweep import _make_progress, _quiet_backend_start
    from noisylab.reproduce.run import plan
    from noisylab.reproduce.run import reproduce as run
    from noisylab.sweep import device_name, load_trainer

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = out or os.path.join("results", f"reproduce-{protocol}-{scale}")
    with _quiet_backend_start():
        spec, sweep_plan = plan(protocol, scale=scale, out=out, force=force)
        trainer = load_trainer() if sweep_plan.todo else None
        device = device_name()
    click.echo(f"{spec.name} at scale {scale}: {spec.what}", err=True)
    click.echo(f"expected wall time on a 2-core CPU: {spec.expected[scale]}", err=True)
    progress = _make_progress(Console(stderr=True), device)
    try:
        done = run(spec, sweep_plan, scale=scale, out=out, trainer=trainer, progress=progress)
    finally:
        progress.stop()
    table = done.table
    click.echo("  ".join(table.columns))
    for row in table.itertuples(index=False):
        click.echo("  ".join(_fmt(v) for v in row))
    for path in done.written[:2]:
        click.echo(f"wrote {path}")
    click.echo(f"done in {done.seconds:.0f} s")
    if done.failed:
        click.echo(f"{len(done.failed)} runs failed: {', '.join(done.failed)}", err=True)
        raise SystemExit(3)
