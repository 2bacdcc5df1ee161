"""Tiny transformers models for auto-labeling tests, built from configs and saved with
`save_pretrained` into a folder, so tests load them through the same code path as real models
(AutoModel*.from_pretrained on a local folder). Nothing is downloaded.

Random weights give random predictions, so the classifiers' heads are set by hand: a zero
weight and a bias that makes the label `favor` win (or all labels tie when favor is None). That
makes every prediction known in advance: its label, and whether its confidence is low.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

WORDS = ["hello", "world", "paris", "london", "anna", "bob", "lives", "in", "the", "a", "is", "good", "bad",
         "movie", "great", "zurich", "ok", "##s", "##ing", ".", ",", "!"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list("abcdefghijklmnopqrstuvwxyz'")


def _labels(names: list[str]) -> dict:
    return {"id2label": {i: n for i, n in enumerate(names)}, "label2id": {n: i for i, n in enumerate(names)}}


def _set_head(linear: torch.nn.Linear, favor: int | None, strength: float = 6.0) -> None:
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
        if favor is not None:
            linear.bias[favor] = strength


def _save(model, folder: Path, *processors) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    for p in processors:
        p.save_pretrained(folder)
    return folder


def vit_image_classifier(folder: Path, labels: list[str], favor: str | None = None) -> Path:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=64, **_labels(labels))
    model = ViTForImageClassification(config)
    _set_head(model.classifier, labels.index(favor) if favor else None)
    processor = ViTImageProcessor(size={"height": 32, "width": 32})
    return _save(model, folder, processor)


def detr_detector(folder: Path, labels: list[str], favor: str | None = None,
                  box: tuple[float, float, float, float] = (0.5, 0.5, 0.4, 0.4), num_queries: int = 5) -> Path:
    """A tiny DETR (pure PyTorch ResNet backbone from a config: no timm, no torchvision). With
    `favor`, every query predicts that label with a high score and the box `box` (normalized
    cx, cy, w, h); without it the head is random (fine-tuning tests)."""
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    torch.manual_seed(0)
    backbone = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                            layer_type="basic", out_features=["stage2"])
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=num_queries,
                        **_labels(labels))
    model = DetrForObjectDetection(config)
    if favor is not None:
        _set_head(model.class_labels_classifier, labels.index(favor), strength=8.0)
        last = model.bbox_predictor.layers[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor([math.log(v / (1 - v)) for v in box]))
    processor = DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 64})
    return _save(model, folder, processor)


def _bert_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + WORDS + CHARS) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True, model_max_length=64)


def _bert_config(labels: list[str]):
    from transformers import BertConfig

    return BertConfig(vocab_size=len(SPECIAL) + len(WORDS) + len(CHARS), hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, **_labels(labels))


def bert_token_classifier(folder: Path, labels: list[str], favor: str | None = None) -> Path:
    """Token classification with BIO labels, e.g. ["O", "B-PLACE", "I-PLACE"]; favor "I-PLACE"
    makes one entity of every text."""
    from transformers import BertForTokenClassification

    torch.manual_seed(0)
    folder = Path(folder)
    tokenizer = _bert_tokenizer(folder)
    model = BertForTokenClassification(_bert_config(labels))
    _set_head(model.classifier, labels.index(favor) if favor else None)
    return _save(model, folder, tokenizer)


def bert_sequence_classifier(folder: Path, labels: list[str], favor: str | None = None) -> Path:
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    folder = Path(folder)
    tokenizer = _bert_tokenizer(folder)
    model = BertForSequenceClassification(_bert_config(labels))
    _set_head(model.classifier, labels.index(favor) if favor else None)
    return _save(model, folder, tokenizer)


def _wav2vec2_config(**kw):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_feat_extract_layers=2,
                          num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, do_stable_layer_norm=False,
                          feat_extract_norm="group", mask_time_prob=0.0, **kw)


def _feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=True)


def wav2vec2_ctc(folder: Path, favor: str | None = "a") -> Path:
    """CTC speech recognition over letters; `favor` makes every frame that letter (the
    transcript is then that one letter); None: the blank wins everywhere (an empty transcript)."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2ForCTC, Wav2Vec2Processor

    torch.manual_seed(0)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<pad>", "<s>", "</s>", "<unk>", "|"] + CHARS
    vocab = folder / "vocab.json"
    vocab.write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    processor = Wav2Vec2Processor(feature_extractor=_feature_extractor(), tokenizer=tokenizer)
    model = Wav2Vec2ForCTC(_wav2vec2_config(vocab_size=len(tokens), pad_token_id=0, ctc_loss_reduction="mean"))
    _set_head(model.lm_head, tokens.index(favor) if favor else 0)
    return _save(model, folder, processor)


def wav2vec2_audio_classifier(folder: Path, labels: list[str], favor: str | None = None) -> Path:
    from transformers import Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    model = Wav2Vec2ForSequenceClassification(_wav2vec2_config(classifier_proj_size=16, **_labels(labels)))
    _set_head(model.classifier, labels.index(favor) if favor else None)
    return _save(model, folder, _feature_extractor())


def ast_audio_classifier(folder: Path, labels: list[str], favor: str | None = None) -> Path:
    """Audio Spectrogram Transformer (ASTForAudioClassification) on 16 mel bins, 1 s windows."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       max_length=100, num_mel_bins=16, patch_size=16, frequency_stride=10, time_stride=10,
                       **_labels(labels))
    model = ASTForAudioClassification(config)
    _set_head(model.classifier.dense, labels.index(favor) if favor else None)
    return _save(model, folder, ASTFeatureExtractor(num_mel_bins=16, max_length=100, sampling_rate=16000))
