"""Protobuf messages from keyword arguments, with enums given by short name."""

from typing import Any, Mapping

from google.protobuf import descriptor, message


def enum_value(field: descriptor.FieldDescriptor, value: Any) -> int:
    """The number of enum `field`'s value named `value`.

    Accepts the number itself, the full name ("TASK_BINARY") or its last part,
    case-insensitively ("binary", "if_better"). Raises ValueError otherwise.
    """
    if isinstance(value, int):
        return value
    wanted = str(value).upper()
    matches = [v for v in field.enum_type.values
               if not v.name.endswith("UNSPECIFIED") and
               (v.name == wanted or v.name.endswith("_" + wanted))]
    if len(matches) != 1:
        names = ", ".join(v.name.split("_", 1)[-1].lower()
                          for v in field.enum_type.values
                          if not v.name.endswith("UNSPECIFIED"))
        raise ValueError(f"{field.name}={value!r} is not one of: {names}")
    return matches[0].number


def fill(msg: message.Message, settings: Mapping[str, Any]) -> None:
    """Sets msg's fields from `settings` (field name -> value).

    Enum fields take short names (see enum_value); repeated fields take any
    iterable; `interactions` takes "a:b" strings or (a, b) pairs; message
    fields (`policies`) take a mapping of their own settings or a message.
    Raises TypeError for a name msg does not have and ValueError for a bad
    value.
    """
    fields = msg.DESCRIPTOR.fields_by_name
    for name, value in settings.items():
        if value is None:
            continue
        field = fields.get(name)
        if field is None:
            raise TypeError(
                f"{msg.DESCRIPTOR.name} has no setting {name!r}; known: "
                f"{', '.join(sorted(fields))}")
        if name == "interactions":
            for pair in value:
                first, second = (pair.split(":", 1) if isinstance(pair, str)
                                 else pair)
                msg.interactions.add(first=first, second=second)
        elif field.label == descriptor.FieldDescriptor.LABEL_REPEATED:
            getattr(msg, name).extend(value)
        elif field.message_type is not None:
            if isinstance(value, message.Message):
                getattr(msg, name).CopyFrom(value)
            else:
                fill(getattr(msg, name), value)
        elif field.enum_type is not None:
            setattr(msg, name, enum_value(field, value))
        else:
            setattr(msg, name, value)
