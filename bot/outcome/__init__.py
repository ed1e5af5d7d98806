"""outcome"""

__all__: list[str] = []
