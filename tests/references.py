"""Independent references the engine is checked against."""

from __future__ import annotations

from typing import Any

import torch
from actlab.engine import RunConfig
from actlab.engine.data import Dataset
from actlab.engine.model import initial_parameters, reference_network


def reference_run(
    config: RunConfig, data: Dataset, activation: str, batches: list[torch.Tensor]
) -> torch.nn.Sequential:
    """The usual PyTorch way, written independently of the engine's hand-made backward:
    torch.nn and torch.optim, weights and PReLU slopes decayed (L2, L1), biases not."""
    sizes = [784] + [config.width] * config.depth + [10]
    init = config.init
    net = reference_network(activation, sizes, initial_parameters(sizes, init, config.seed))
    weights = [m.weight for m in net if isinstance(m, (torch.nn.Linear, torch.nn.PReLU))]
    biases = [m.bias for m in net if isinstance(m, torch.nn.Linear)]
    groups: list[dict[str, Any]] = [
        {"params": weights, "weight_decay": config.weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]
    opt: torch.optim.Optimizer
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    else:
        opt = torch.optim.Adam(groups, lr=config.lr)
    for idx in batches:
        x, y = data.train_x[idx], data.train_y[idx]
        logits = net(x)
        if config.loss == "cross_entropy":
            loss = torch.nn.functional.cross_entropy(logits, y)
        else:
            loss = torch.nn.functional.mse_loss(torch.softmax(logits, -1), torch.eye(10)[y])
        if config.l1:
            loss = loss + config.l1 * sum(w.abs().sum() for w in weights)
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        if config.clip in ("l2", "l1", "inf"):
            flat = torch.cat([g.flatten() for g in grads])
            norm = {"l2": flat.norm(2), "l1": flat.norm(1), "inf": flat.abs().max()}[config.clip]
            if norm > config.clip_threshold:
                for g in grads:
                    g.mul_(config.clip_threshold / norm)
        elif config.clip == "value":
            for g in grads:
                g.clamp_(-config.clip_threshold, config.clip_threshold)
        opt.step()
    return net
