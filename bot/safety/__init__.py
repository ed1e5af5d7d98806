"""safety"""

__all__: list[str] = []
