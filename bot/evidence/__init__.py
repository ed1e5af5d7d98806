"""evidence"""

__all__: list[str] = []
