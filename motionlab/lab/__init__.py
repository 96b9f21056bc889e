"""The Streamlit lab's logic, kept testable without Streamlit.

Run the app with ``streamlit run lab_app.py``. Pages live in ``lab_pages/`` and stay thin (the folder is
not called ``pages/``: Streamlit would treat that as a second, file-based navigation and serve a
deep link such as /training without lab_app.py on a fresh server). ui.py is the only module here that
imports streamlit; the others are plain logic with tests in tests/lab/ (docs/LAB.md lists the modules,
the environment variables and what each page does).

Widget keys are PAGE.NAME, written once at the widget (key=...); the keys the code also reads, writes or
pops, and every lab-owned session key ("lab." prefix), are constants in keys.py, which
tests/lab/test_keys.py holds the pages to.
"""
