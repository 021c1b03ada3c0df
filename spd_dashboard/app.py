"""spd dashboard entry point: page config, the sidebar filters shared by every page, and the navigation.

Run with ``streamlit run spd_dashboard/app.py`` (``make run`` does, on 127.0.0.1:8501).
"""

import streamlit as st

from spd_dashboard import query, ui

st.set_page_config(page_title="spd · sales performance", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/skus.py", title="SKUs", icon=":material/inventory_2:"),
    st.Page("views/regions.py", title="Regions", icon=":material/public:"),
    st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("views/why.py", title="Why", icon=":material/troubleshoot:"),
    st.Page("views/events.py", title="Calendar", icon=":material/event:", url_path="calendar"),
    st.Page("views/health.py", title="Data health", icon=":material/health_and_safety:"),
]
page = st.navigation(pages)
with query.one_listing():  # the sidebar and the page see the same files
    ui.sidebar(query.data_dir())
    page.run()
