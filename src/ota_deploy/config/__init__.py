"""dev.ini to typed ``Settings``: every key of the manual, checked before any AWS call."""
