/**
 * Fine-tuning a Hugging Face model directory from Java in one call: full fine-tuning, LoRA or LISA, on
 * token, text or JSONL data, with a schedule, clipping, accumulation, an eval split, checkpoints and resume,
 * a progress listener, and saving of the model or the PEFT adapter. The {@code jlisa finetune} command is
 * built on it.
 */
package jlisa.finetune;
