"""A PyTorch training loop with tblog.adapters.torch: ``track`` and ``watch``.

A tiny MLP fits a noisy sine on CPU. ``track`` logs the learning rate, the gradient norm,
the step time and the throughput every 10 optimizer steps; ``watch`` logs histograms and
norms of the weights and gradients every 20 forward passes. Neither calls ``.item()``.

    python examples/torch_loop.py --logdir runs/torch_loop
"""

from __future__ import annotations

import argparse

import torch

import tblog.adapters.torch as tbtorch
from tblog import SummaryWriter

STEPS, BATCH = 100, 32


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/torch_loop", help="run directory to write")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 512).unsqueeze(1)
    y = torch.sin(x) + 0.1 * torch.randn_like(x)

    model = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.5)
    loss_fn = torch.nn.MSELoss()

    with SummaryWriter(args.logdir) as writer:
        tracker = tbtorch.track(optimizer, writer, log_every=10, batch_size=BATCH)  # train/...
        handle = tbtorch.watch(model, writer, log="all", log_freq=20)  # parameters/..., gradients/...
        model.train()
        for _ in range(STEPS):
            idx = torch.randint(0, len(x), (BATCH,))
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            tracker.log("loss", loss)  # train/loss at steps 10, 20, ...: a tensor, no .item()
        tracker.remove()
        handle.remove()

    print(f"tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
