"""page"""

__all__: list[str] = []
