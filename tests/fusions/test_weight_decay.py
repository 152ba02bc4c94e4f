"""no_weight_decay(): each method declares which parameters weight decay must leave alone."""

import pytest
import torch

import streamfuse

from .test_registry_contract import VARIANTS, build_variant
from .variants import variant_id


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_declared_names_are_parameters(name, options):
    f, _ = build_variant(name, options)
    params = dict(f.named_parameters())
    assert f.no_weight_decay() <= set(params), f"declared {f.no_weight_decay() - set(params)} are not parameters"


@pytest.mark.parametrize("mode", ["pooled", "tokens"])
def test_transformer_stream_embedding_not_decayed_in_either_mode(mode):
    head = streamfuse.MultiStreamHead([3, 17], 4, fusion="transformer", dim=8, mode=mode)
    skip = streamfuse.no_weight_decay_ids(head)
    fusion = head.fusion
    embed = fusion.embed.stream_embed if mode == "tokens" else fusion.stream_embed
    assert id(embed) in skip and id(fusion.cls) in skip
    assert id(fusion.layers[0].linear1.weight) not in skip


def test_no_weight_decay_ids_over_a_model():
    head = streamfuse.MultiStreamHead([3, 17], 4, fusion="channel", dim=8)
    net = torch.nn.Sequential(torch.nn.Linear(5, 5), head)
    skip = streamfuse.no_weight_decay_ids(net)
    assert id(head.fusion.theta) in skip  # 2-D (S, D): kept by the declaration, not by its rank
    assert id(head.fc.bias) in skip and id(net[0].bias) in skip  # 1-D
    assert id(head.fc.weight) not in skip and id(net[0].weight) not in skip
    only_declared = streamfuse.no_weight_decay_ids(net, one_dim=False)
    assert only_declared == {id(head.fusion.theta)}


@pytest.mark.parametrize(
    "name,expected",
    [("scalar", {"theta"}), ("channel", {"theta"}), ("convex", {"theta"}), ("adaptive", {"stream_bias"}),
     ("attention", {"stream_bias", "query"}), ("cross_attention", {"stream_bias", "null", "embed.stream_embed"}),
     ("lowrank", {"rank_weight", "bias"}), ("concat", set()), ("gmu", set())],
)
def test_declarations(name, expected):
    assert streamfuse.create_fusion(name, [6, 4], dim=8).no_weight_decay() == expected
