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


# -- image-text and segmentation models (issue 18: zero-shot pre-labeling, SAM) ----------------------

CLIP_WORDS = ["a", "photo", "of", "cat", "dog", "car", "bird", "tree"]


def _clip_tokenizer(folder: Path, max_length: int = 16):
    """A CLIP byte-level BPE tokenizer over letters, "." and the words of CLIP_WORDS: vocab.json
    and merges.txt written here (word ends carry "</w>"); the special tokens come last, as in
    CLIP's own vocabulary (OWL-ViT takes a query whose first token id is 0 for padding)."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    for c in "abcdefghijklmnopqrstuvwxyz.":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    merges = []
    for w in CLIP_WORDS:  # merge each word left to right: a b -> ab, ab c</w> -> abc</w>
        pieces = list(w[:-1]) + [w[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            vocab.setdefault(pieces[0] + pieces[1], len(vocab))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length)


def _clip_towers(tokenizer, max_length: int = 16) -> tuple[dict, dict]:
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=max_length, bos_token_id=eos - 1, eos_token_id=eos,
                pad_token_id=eos)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=8)
    return text, vision


def clip_model(folder: Path) -> Path:
    """A CLIP dual encoder (CLIPModel) with its CLIPProcessor (32 px images): random weights, so
    which label it prefers is arbitrary, but the same on every run."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(0)
    tokenizer = _clip_tokenizer(folder)
    text, vision = _clip_towers(tokenizer)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    return _save(model, folder, processor)


def owlvit_detector(folder: Path, favor_prompt: str | None = None) -> Path:
    """An OWL-ViT open-vocabulary detector (OwlViTForObjectDetection, 32 px images in 4 x 4
    patches) with its OwlViTProcessor. With `favor_prompt`, the heads are set by hand: each patch
    predicts its own cell of the 4 x 4 grid (16 boxes tiling the image), and the query
    `favor_prompt` scores every box sigmoid(1) ~ 0.73, above any other query; without it the
    heads are random."""
    from transformers import OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor, OwlViTProcessor

    torch.manual_seed(0)
    tokenizer = _clip_tokenizer(folder)
    text, vision = _clip_towers(tokenizer)
    model = OwlViTForObjectDetection(OwlViTConfig(text_config=text, vision_config=vision, projection_dim=32)).eval()
    image_processor = OwlViTImageProcessor(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32})
    processor = OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer)
    if favor_prompt is not None:
        enc = processor(text=[[favor_prompt]], images=[torch.zeros(3, 32, 32)], return_tensors="pt")
        with torch.no_grad():
            query = model(**enc).text_embeds[0, 0]
            head = model.class_head  # logit = (cosine(image class embed, query) + shift) * (elu(scale) + 1)
            head.dense0.weight.zero_()
            head.dense0.bias.copy_(query)  # every patch's class embedding is the favoured query: cosine 1
            for linear in (head.logit_shift, head.logit_scale):
                linear.weight.zero_()
                linear.bias.zero_()
            model.box_head.dense2.weight.zero_()  # box = sigmoid(box bias): the patch's own cell
            model.box_head.dense2.bias.zero_()
    return _save(model, folder, processor)


def sam_model(folder: Path, fill: bool = True) -> Path:
    """A tiny Segment Anything (SamModel, 64 px input, a 4 x 4 embedding) with its SamProcessor.
    `fill`: every mask covers the whole image (the mask decoder's output set by hand), so what
    comes back is known: the box prompt's rectangle when a box is given, else the image; without
    it the weights are random."""
    from transformers import (SamConfig, SamImageProcessor, SamMaskDecoderConfig, SamModel, SamProcessor,
                              SamPromptEncoderConfig, SamVisionConfig)

    torch.manual_seed(0)
    vision = SamVisionConfig(hidden_size=32, output_channels=32, num_hidden_layers=2, num_attention_heads=2,
                             image_size=64, patch_size=16, window_size=2, global_attn_indexes=[1], num_pos_feats=16,
                             mlp_dim=64)
    prompt = SamPromptEncoderConfig(hidden_size=32, image_size=64, patch_size=16, mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=2,
                                   iou_head_hidden_dim=32)
    model = SamModel(SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder))
    if fill:
        d = model.mask_decoder
        with torch.no_grad():  # masks = hyper_in @ upscaled: both set to positive constants
            d.upscale_conv2.weight.zero_()
            d.upscale_conv2.bias.fill_(1.0)
            for mlp in d.output_hypernetworks_mlps:
                mlp.proj_out.weight.zero_()
                mlp.proj_out.bias.fill_(1.0)
    processor = SamProcessor(SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}))
    return _save(model, folder, processor)
