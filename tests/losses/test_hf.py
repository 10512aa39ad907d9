"""The Hugging Face ``Trainer(compute_loss_func=...)`` adapter, with a tiny random BERT on CPU."""

from __future__ import annotations

import pytest
import torch

from mlbalance.losses import get_loss, hf_compute_loss

transformers = pytest.importorskip("transformers")

N_LABELS = 5


class _MultiLabelData(torch.utils.data.Dataset):
    def __init__(self, n: int = 16, seq: int = 8) -> None:
        gen = torch.Generator().manual_seed(0)
        self.ids = torch.randint(5, 60, (n, seq), generator=gen)
        self.labels = (torch.rand(n, N_LABELS, generator=gen) < 0.3).float()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ids = self.ids[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": self.labels[i]}


def _tiny_bert():
    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=N_LABELS,
        problem_type="multi_label_classification",
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config)


def test_adapter_values():
    loss = get_loss("db", [8, 4, 2, 1, 0], n_train=16)
    adapter = hf_compute_loss(loss)
    logits = torch.randn(3, N_LABELS)
    labels = torch.tensor([[1, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 0]], dtype=torch.float32)
    outputs = transformers.modeling_outputs.SequenceClassifierOutput(logits=logits)
    mean = loss(logits, labels)
    torch.testing.assert_close(adapter(outputs, labels), mean)
    torch.testing.assert_close(adapter({"logits": logits}, labels, num_items_in_batch=15), mean)
    # two accumulated micro-batches: each part is normalised by the whole count
    torch.testing.assert_close(adapter(outputs, labels, num_items_in_batch=torch.tensor(30)), mean / 2)
    with pytest.raises(ValueError, match="`loss` must be a BalancedLoss"):
        hf_compute_loss(torch.nn.BCEWithLogitsLoss())


def test_trainer_runs_a_few_steps_with_the_adapter(tmp_path):
    data = _MultiLabelData()
    model = _tiny_bert()
    before = model.classifier.weight.detach().clone()
    loss = get_loss("db", data.labels.sum(0), n_train=len(data), dataset="reuters")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        max_steps=2,
        learning_rate=1e-2,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    adapter = hf_compute_loss(loss)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, compute_loss_func=adapter)
    result = trainer.train()
    assert result.global_step == 2
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(model.classifier.weight.detach(), before)
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert logged and all(torch.isfinite(torch.tensor(v)) for v in logged)
