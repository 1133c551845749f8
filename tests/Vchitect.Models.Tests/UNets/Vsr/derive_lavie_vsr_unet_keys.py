"""Derives the state_dict key -> shape layout of LaVie's UNet3DVSRModel for the published config, by hand.

No torch and no checkpoint: every function below restates, from reading the reference source (Vchitect/LaVie
vsr/models/{unet,unet_blocks,attention,resnet,temporal_module}.py and vsr/configs/unet_3d_config.json), which
submodules a module registers, under which attribute names, with which parameter shapes. It writes
tests/fixtures/manifests/manifest_lavie_vsr_unet_derived.json in the manifest format ({"state_dict": {key: [shape, dtype]}})
plus the parameter counts.

Notes taken from the reference:
* torch's state_dict does not de-duplicate shared modules: the one RotaryEmbedding(32) created as
  UNet3DVSRModel.temporal_rotary_emb is also registered as TemporalAttention.rotary_emb of every transformer block, so
  its `freqs` Parameter [16] appears once at the top level and once per attn_temporal; model.parameters() counts it once.
* Downsample3D is built with name="op", so only `conv` is registered (no `Conv2d_0` alias).
* Transformer3DModel (vsr) owns `resblock_temporal = ResnetBlock3DCNN(in_channels, kernel=(3,1,1), temb_channels=None)`:
  no time_emb_proj, and no conv_shortcut (in == out). With use_linear_projection, proj_out is Linear(in_channels, inner_dim).
* TemporalModule3D with attention_block_types ["",""] and video_condition False registers only resblocks_3d_t
  (ResnetBlock3DCNN kernel (5,1,1) with temb), resblocks_3d_s (ResnetBlock3D) and shift_conv (InflatedConv3d 1x1);
  EmptyTemporalModule3D registers nothing.
* only_cross_attention[i] makes attn1 of down block i a cross-attention (to_k/to_v from cross_attention_dim);
  the up blocks use the reversed list; the mid block never.
"""
import json
import os

sd = {}


def param(key, shape):
    assert key not in sd, key
    sd[key] = list(shape)


def linear(p, i, o, bias=True):
    param(p + ".weight", [o, i])
    if bias:
        param(p + ".bias", [o])


def conv2d(p, i, o, k):
    param(p + ".weight", [o, i, k, k])
    param(p + ".bias", [o])


def conv3d_t(p, i, o, kt):
    param(p + ".weight", [o, i, kt, 1, 1])
    param(p + ".bias", [o])


def norm(p, c):
    param(p + ".weight", [c])
    param(p + ".bias", [c])


def rotary(p):
    param(p + ".freqs", [16])  # RotaryEmbedding(32): Parameter of 32 // 2 frequencies


def resnet3d(p, i, o, temb):
    norm(p + ".norm1", i)
    conv2d(p + ".conv1", i, o, 3)
    linear(p + ".time_emb_proj", temb, o)
    norm(p + ".norm2", o)
    conv2d(p + ".conv2", o, o, 3)
    if i != o:
        conv2d(p + ".conv_shortcut", i, o, 1)


def resnet3d_cnn(p, i, o, kt, temb):
    norm(p + ".norm1", i)
    conv3d_t(p + ".conv1", i, o, kt)
    if temb is not None:
        linear(p + ".time_emb_proj", temb, o)
    norm(p + ".norm2", o)
    conv3d_t(p + ".conv2", o, o, 3)
    if i != o:
        conv3d_t(p + ".conv_shortcut", i, o, 1)


def cross_attention(p, q, ctx, heads, dh):
    inner = heads * dh
    linear(p + ".to_q", q, inner, bias=False)
    linear(p + ".to_k", ctx, inner, bias=False)
    linear(p + ".to_v", ctx, inner, bias=False)
    linear(p + ".to_out.0", inner, q)


def basic_block(p, dim, heads, dh, cross, only_cross):
    cross_attention(p + ".attn1", dim, cross if only_cross else dim, heads, dh)
    norm(p + ".norm1", dim)
    cross_attention(p + ".attn2", dim, cross, heads, dh)
    norm(p + ".norm2", dim)
    cross_attention(p + ".attn_temporal", dim, dim, heads, dh)
    param(p + ".attn_temporal.time_rel_pos_bias.relative_attention_bias.weight", [32, heads])
    rotary(p + ".attn_temporal.rotary_emb")
    norm(p + ".norm_temporal", dim)
    linear(p + ".ff.net.0.proj", dim, dim * 4 * 2)
    linear(p + ".ff.net.2", dim * 4, dim)
    norm(p + ".norm3", dim)


def transformer(p, c, heads, cross, only_cross):
    dh = c // heads
    resnet3d_cnn(p + ".resblock_temporal", c, c, 3, None)
    norm(p + ".norm", c)
    linear(p + ".proj_in", c, heads * dh)
    basic_block(p + ".transformer_blocks.0", heads * dh, heads, dh, cross, only_cross)
    linear(p + ".proj_out", c, heads * dh)


def temporal_module(p, c, temb):
    resnet3d_cnn(p + ".resblocks_3d_t", c, c, 5, temb)
    resnet3d(p + ".resblocks_3d_s", c, c, temb)
    conv2d(p + ".shift_conv", c, c, 1)


def build(cfg):
    ch = cfg["block_out_channels"]
    n = len(ch)
    heads = cfg["attention_head_dim"]
    heads = [heads] * n if isinstance(heads, int) else heads
    oca = cfg["only_cross_attention"]
    oca = [oca] * n if isinstance(oca, bool) else oca
    cross = cfg["cross_attention_dim"]
    lpb = cfg["layers_per_block"]
    temb = ch[0] * 4
    conv2d("conv_in", cfg["in_channels"], ch[0], 3)
    linear("time_embedding.linear_1", ch[0], temb)
    linear("time_embedding.linear_2", temb, temb)
    param("class_embedding.weight", [cfg["num_class_embeds"], temb])
    rotary("temporal_rotary_emb")
    out_c = ch[0]
    for i, kind in enumerate(cfg["down_block_types"]):
        in_c, out_c = out_c, ch[i]
        p = f"down_blocks.{i}"
        for j in range(lpb):
            resnet3d(f"{p}.resnets.{j}", in_c if j == 0 else out_c, out_c, temb)
            if kind == "CrossAttnDownBlock3D":
                transformer(f"{p}.attentions.{j}", out_c, heads[i], cross, oca[i])
        if i != n - 1:
            conv2d(f"{p}.downsamplers.0.conv", out_c, out_c, 3)
        if i in cfg["down_temporal_idx"]:
            temporal_module(f"down_temporal_blocks.{i}", out_c, temb)
    resnet3d("mid_block.resnets.0", ch[-1], ch[-1], temb)
    transformer("mid_block.attentions.0", ch[-1], heads[-1], cross, False)
    resnet3d("mid_block.resnets.1", ch[-1], ch[-1], temb)
    if cfg["mid_temporal"]:
        temporal_module("mid_temporal_block", ch[-1], temb)
    rch, rheads, roca = ch[::-1], heads[::-1], oca[::-1]
    out_c = rch[0]
    for i, kind in enumerate(cfg["up_block_types"]):
        prev, out_c = out_c, rch[i]
        in_c = rch[min(i + 1, n - 1)]
        p = f"up_blocks.{i}"
        for j in range(lpb + 1):
            skip = in_c if j == lpb else out_c
            res_in = prev if j == 0 else out_c
            resnet3d(f"{p}.resnets.{j}", res_in + skip, out_c, temb)
            if kind == "CrossAttnUpBlock3D":
                transformer(f"{p}.attentions.{j}", out_c, rheads[i], cross, roca[i])
        if i != n - 1:
            conv2d(f"{p}.upsamplers.0.conv", out_c, out_c, 3)
        if i in cfg["up_temporal_idx"]:
            temporal_module(f"up_temporal_blocks.{i}", out_c, temb)
    norm("conv_norm_out", ch[0])
    conv2d("conv_out", ch[0], cfg["out_channels"], 3)


CONFIG = {  # vsr/configs/unet_3d_config.json (fields that shape the state dict)
    "attention_head_dim": 8, "block_out_channels": [256, 512, 512, 1024], "cross_attention_dim": 1024,
    "down_block_types": ["DownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D"],
    "up_block_types": ["CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "UpBlock3D"],
    "in_channels": 7, "out_channels": 4, "layers_per_block": 2, "num_class_embeds": 1000,
    "only_cross_attention": [True, True, True, False], "down_temporal_idx": [0, 1, 2, 3], "mid_temporal": True,
    "up_temporal_idx": [0, 1, 2, 3],
}

if __name__ == "__main__":
    build(CONFIG)
    numel = lambda s: eval("*".join(map(str, s))) if s else 1
    total = sum(numel(s) for s in sd.values())
    freq_copies = sum(1 for k in sd if k.endswith("rotary_emb.freqs"))
    unique_params = total - 16 * (freq_copies - 1)  # the shared freqs Parameter counted once
    out = {
        "class": "vsr.models.unet.UNet3DVSRModel (derived by hand, see derive_lavie_vsr_unet_keys.py)",
        "config": CONFIG,
        "keys": len(sd),
        "state_dict_numel": total,
        "unique_parameters": unique_params,
        "rotary_freqs_copies": freq_copies,
        "state_dict": {k: [v, "float32"] for k, v in sorted(sd.items())},
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "..", "fixtures", "manifests", "manifest_lavie_vsr_unet_derived.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")
    print(len(sd), "keys;", total, "state_dict elements;", unique_params, "unique parameters;", freq_copies, "freqs copies")
