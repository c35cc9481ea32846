"""The template writer's content types, one small module each; `template.py` is the entry point."""
