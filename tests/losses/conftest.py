"""Fixtures of the loss tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def small_problem():
    """Small float64 logits/targets with a document without positives and edge frequencies."""
    gen = torch.Generator().manual_seed(1234)
    n_docs, n_labels, n_train = 6, 7, 40
    logits = torch.randn(n_docs, n_labels, generator=gen, dtype=torch.float64) * 3
    targets = (torch.rand(n_docs, n_labels, generator=gen) < 0.35).to(torch.float64)
    targets[0] = 0  # a document with no positive label
    targets[1, 0] = 1  # a positive on the unseen label
    class_freq = torch.tensor([0, 1, 3, 8, 15, 39, 40])  # includes n_i = 0 and n_i = N
    return logits, targets, class_freq, n_train
